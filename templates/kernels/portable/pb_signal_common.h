#ifndef PB_SIGNAL_COMMON_H_
#define PB_SIGNAL_COMMON_H_

#include "pb_common.h"

/* Bits needed to write x (its highest set bit's position plus one), and 32 for 0 as
 * TFLite Micro's GCC/Clang builds count (32 - count of leading zeros, which they take as
 * 0 for 0): the signal kernels' scale and logarithm steps depend on that value. */
static inline uint32_t pb_signal_msb32(uint32_t x)
{
    uint32_t bits = 0;
    if (x == 0) {
        return 32;
    }
#if defined(__GNUC__)
    bits = 32u - (uint32_t)__builtin_clz(x);
#else
    while (x) {
        x >>= 1;
        ++bits;
    }
#endif
    return bits;
}

static inline uint32_t pb_signal_msb64(uint64_t x)
{
    const uint32_t high = (uint32_t)(x >> 32);
    if (high != 0) {
        return 32u + pb_signal_msb32(high);
    }
    return x == 0 ? 64u : pb_signal_msb32((uint32_t)x);
}

#endif
