// PUNCH_EXPORT marks what libpunch exports. The library is built with -fvisibility=hidden, so
// anything declared without it (the punch::detail internals in framework/src) stays inside
// libpunch.so and may change without notice.
#pragma once

#define PUNCH_EXPORT __attribute__((visibility("default")))
