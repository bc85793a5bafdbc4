// PUNCH_EXPORT marks what libpunch exports. The library is built with -fvisibility=hidden, so
// anything declared without it (the punch::detail internals in framework/src) stays inside
// libpunch.so and may change without notice.
#pragma once

#define PUNCH_EXPORT __attribute__((visibility("default")))
// PUNCH_LOCAL keeps a definition hidden where it would inherit PUNCH_EXPORT: the private
// `impl` nested in an exported class.
#define PUNCH_LOCAL __attribute__((visibility("hidden")))
