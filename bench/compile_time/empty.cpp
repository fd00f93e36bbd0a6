// Compile-time baseline: an empty translation unit.
