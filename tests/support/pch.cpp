// The translation unit that builds the test binaries' precompiled header
// (tests/CMakeLists.txt, OBS_TEST_PCH); it holds nothing itself.
