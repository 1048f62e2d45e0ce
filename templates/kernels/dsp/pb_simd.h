/* protobrain: the few SIMD operations the fast kernels are built from.
 *
 * On a core with the Arm DSP extension (Cortex-M4/M7/M33/M55) each is one instruction,
 * through GCC's ACLE intrinsics (arm_acle.h) or, where ACLE has no intrinsic, one line of
 * inline assembly. Everywhere else the same operation is plain C with the same result, so
 * the fast kernels' logic (layouts, folded offsets, blocking) runs and is tested on any
 * host too, and the device adds only the instruction selection. */
#ifndef PB_DSP_SIMD_H
#define PB_DSP_SIMD_H

#include <stdint.h>
#include <string.h>

#if defined(__ARM_FEATURE_DSP) && !defined(PB_SIMD_PORTABLE)
#include <arm_acle.h>
#define PB_SIMD_DSP 1
#endif

/* The fast kernels' building blocks take layer constants (requantization mode, filter
 * size) as arguments and are always inlined, so each call site compiles to code with
 * those constants folded in. */
#if defined(__GNUC__)
#define PB_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define PB_ALWAYS_INLINE inline
#endif

/* And the parts kept out of line: inlined, they would crowd their callers' loops out of
 * registers (unused: one defined in a header warns nowhere it goes uncalled). */
#if defined(__GNUC__)
#define PB_NOINLINE __attribute__((noinline, unused))
#else
#define PB_NOINLINE
#endif

/* A function written wholly in assembly (a top-level asm statement: every register its
 * own, r7 too): its own section, so the link drops it where nothing calls it, Thumb code,
 * global. PB_ASM_END closes it. */
#define PB_ASM_FUNCTION(name)                               \
    ".pushsection .text." #name ",\"ax\",%progbits\n\t"      \
    ".balign 4\n\t"                                          \
    ".global " #name "\n\t"                                  \
    ".type " #name ", %function\n\t"                         \
    ".syntax unified\n\t"                                    \
    ".thumb\n\t"                                             \
    ".thumb_func\n" #name ":\n\t"
#define PB_ASM_END(name) ".size " #name ", . - " #name "\n\t.popsection"

/* A 32-bit load from any address: one LDR on Cortex-M (unaligned LDR is allowed), and no
 * strict-aliasing or alignment trouble in C. */
static inline uint32_t pb_load32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static inline void pb_store32(void *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

#ifdef PB_SIMD_DSP

/* Bytes 0 and 2, sign-extended to two int16 lanes. */
static inline uint32_t pb_sxtb16(uint32_t x)
{
    return (uint32_t)__sxtb16((int8x4_t)x);
}

/* Bytes 1 and 3, sign-extended to two int16 lanes (SXTB16 with its ROR #8 operand). */
static inline uint32_t pb_sxtb16_hi(uint32_t x)
{
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}

/* acc + lo(a) * lo(b) + hi(a) * hi(b), int16 lanes. */
static inline int32_t pb_smlad(uint32_t a, uint32_t b, int32_t acc)
{
    return __smlad((int16x2_t)a, (int16x2_t)b, acc);
}

static inline int32_t pb_smlabb(uint32_t a, uint32_t b, int32_t acc)
{
    return __smlabb((int32_t)a, (int32_t)b, acc);
}

static inline int32_t pb_smlatt(uint32_t a, uint32_t b, int32_t acc)
{
    return __smlatt((int32_t)a, (int32_t)b, acc);
}

/* Lane-wise int16 addition (wrapping). */
static inline uint32_t pb_sadd16(uint32_t a, uint32_t b)
{
    return (uint32_t)__sadd16((int16x2_t)a, (int16x2_t)b);
}

/* Lane-wise int16 subtraction (wrapping). */
static inline uint32_t pb_ssub16(uint32_t a, uint32_t b)
{
    return (uint32_t)__ssub16((int16x2_t)a, (int16x2_t)b);
}

/* (a * b + 2^31) >> 32: the rounded high word of the 64-bit product. */
static inline int32_t pb_smmulr(int32_t a, int32_t b)
{
    int32_t r;
    __asm__("smmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

/* Saturate to int8. */
static inline int32_t pb_ssat8(int32_t x)
{
    return __ssat(x, 8);
}

#else /* portable C, identical results */

static inline int32_t pb_lane16(uint32_t x, int lane)
{
    return (int32_t)(int16_t)(uint16_t)(x >> (16 * lane));
}

static inline uint32_t pb_pack16(int32_t lo, int32_t hi)
{
    return ((uint32_t)lo & 0xFFFFu) | ((uint32_t)hi << 16);
}

static inline uint32_t pb_sxtb16(uint32_t x)
{
    return pb_pack16((int8_t)(uint8_t)x, (int8_t)(uint8_t)(x >> 16));
}

static inline uint32_t pb_sxtb16_hi(uint32_t x)
{
    return pb_pack16((int8_t)(uint8_t)(x >> 8), (int8_t)(uint8_t)(x >> 24));
}

/* The sums wrap in 32 bits as the instruction does: unsigned arithmetic in C. */
static inline int32_t pb_smlad(uint32_t a, uint32_t b, int32_t acc)
{
    return (int32_t)((uint32_t)acc + (uint32_t)(pb_lane16(a, 0) * pb_lane16(b, 0))
                     + (uint32_t)(pb_lane16(a, 1) * pb_lane16(b, 1)));
}

static inline int32_t pb_smlabb(uint32_t a, uint32_t b, int32_t acc)
{
    return (int32_t)((uint32_t)acc + (uint32_t)(pb_lane16(a, 0) * pb_lane16(b, 0)));
}

static inline int32_t pb_smlatt(uint32_t a, uint32_t b, int32_t acc)
{
    return (int32_t)((uint32_t)acc + (uint32_t)(pb_lane16(a, 1) * pb_lane16(b, 1)));
}

static inline uint32_t pb_sadd16(uint32_t a, uint32_t b)
{
    return pb_pack16(pb_lane16(a, 0) + pb_lane16(b, 0), pb_lane16(a, 1) + pb_lane16(b, 1));
}

static inline uint32_t pb_ssub16(uint32_t a, uint32_t b)
{
    return pb_pack16(pb_lane16(a, 0) - pb_lane16(b, 0), pb_lane16(a, 1) - pb_lane16(b, 1));
}

static inline int32_t pb_smmulr(int32_t a, int32_t b)
{
    return (int32_t)(((int64_t)a * (int64_t)b + ((int64_t)1 << 31)) >> 32);
}

static inline int32_t pb_ssat8(int32_t x)
{
    return x < -128 ? -128 : (x > 127 ? 127 : x);
}

#endif /* PB_SIMD_DSP */

#endif /* PB_DSP_SIMD_H */
