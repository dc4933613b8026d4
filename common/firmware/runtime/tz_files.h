// Whole-file reads for the host builds of the apps (device builds embed the .pte and inputs as arrays and never
// include this): into a caller's static buffer, refusing a file larger than the buffer instead of truncating it.
#pragma once

#include <stddef.h>
#include <stdio.h>

#include "tz_platform.h"

// Reads the file at `path` into `buffer`; returns its size, or 0 after logging why not.
inline size_t tz_read_file(const char* path, void* buffer, size_t capacity) {
  FILE* f = fopen(path, "rb");
  if (f == nullptr) {
    tz_log("error: cannot open %s\n", path);
    return 0;
  }
  const size_t n = fread(buffer, 1, capacity, f);
  const bool more = fgetc(f) != EOF;
  fclose(f);
  if (more) {
    tz_log("error: %s is larger than the app's %lu-byte buffer\n", path, (unsigned long)capacity);
    return 0;
  }
  return n;
}

// Reads the model's int8 input tensor itself (e.g. reference_input.bin) from `path`: exactly `nbytes` bytes.
inline bool tz_read_int8_input(const char* path, void* input, size_t nbytes) {
  if (tz_read_file(path, input, nbytes) != nbytes) {
    tz_log("error: %s must hold exactly %lu int8 values (the model input)\n", path, (unsigned long)nbytes);
    return false;
  }
  return true;
}
