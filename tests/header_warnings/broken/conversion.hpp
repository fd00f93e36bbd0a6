// expect: conversion|implicit-int-conversion
// A broken fixture for tests/header_warnings.cmake: an implicit narrowing
// from int to short, which -Wconversion must reject.
#pragma once

inline short obs_fixture_narrow(int n) { return n; }
