/* protobrain: two words in one LDRD with post-increment, which GCC does not emit for an
 * 8-byte load of int16 data (the 16x8 kernels, pb_conv16.c and pb_depthwise_conv16.c). */
#ifndef PB_DSP_LDRD_H
#define PB_DSP_LDRD_H

#include "pb_simd.h"

/* Two words from the word-aligned *p, which then moves past them. The asm is volatile and
 * clobbers memory, so it stays ordered with the stores that wrote the data. */
static PB_ALWAYS_INLINE void pb_ldrd_post(const void **p, uint32_t *a, uint32_t *b)
{
#ifdef PB_SIMD_DSP
    const void *q = *p;
    __asm__ volatile("ldrd %0, %1, [%2], #8" : "=r"(*a), "=r"(*b), "+r"(q) : : "memory");
    *p = q;
#else
    *a = pb_load32(*p);
    *b = pb_load32((const uint8_t *)*p + 4);
    *p = (const uint8_t *)*p + 8;
#endif
}

#endif /* PB_DSP_LDRD_H */
