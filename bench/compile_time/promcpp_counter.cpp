// Compile-time case: include prometheus-cpp's counter header and increment one
// counter (the caller must already hold it).
#include <prometheus/counter.h>

void handle_request(prometheus::Counter& requests) { requests.Increment(); }
