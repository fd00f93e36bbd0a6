// Compile-time case: include only obs's counter handle and increment one
// (the caller must already hold it), like promcpp_counter.cpp.
#include <obs/counter.hpp>

void handle_request(const obs::counter& requests) { requests.increment(); }
