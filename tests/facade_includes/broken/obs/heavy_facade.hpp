// A facade that includes <map>: check_includes.cmake must reject it.
#pragma once
#include <map>
