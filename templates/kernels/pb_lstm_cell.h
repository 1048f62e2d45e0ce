/* protobrain: the integer LSTM cell's arithmetic, bit-exact with TensorFlow Lite Micro, for
 * every tier's LSTM kernel (portable/, dsp/ and mve/ pb_lstm.c; the fast tiers' through
 * pb_fast_recurrent.h). The tiers differ in how they compute the gate layers' accumulators
 * (their dot products) and in their parameter structs, so these functions take the fields
 * they use, and two flags:
 *   fast  every requantization is one rounded high multiply of 2 * acc: the generator sets
 *         it where that is exact (protobrain/compiler/ops/tiers/recurrent.py); the
 *         portable kernel passes 0, TFLite's MultiplyByQuantizedMultiplier;
 *   ssat  saturate with one SSAT on a core with the DSP extension: the fast tiers pass 1;
 *         the portable kernel passes 0 and stays plain C with the branch-free clamp.
 * Each kernel passes ssat as a constant, so the untaken form compiles away. The fast tiers'
 * SVDF requantizes and saturates with the same helpers. */
#ifndef PB_LSTM_CELL_H
#define PB_LSTM_CELL_H

#include "pb_common.h"

#if defined(__ARM_FEATURE_DSP) && !defined(PB_SIMD_PORTABLE)
#include <arm_acle.h>
#define PB_LSTM_CELL_DSP 1
#endif

/* The sigmoid and tanh stay plain static functions, as in a kernel's own file, for the
 * compiler to inline or call (a unit calls them five times); unused where a file includes
 * this header without calling them. */
#if defined(__GNUC__)
#define PB_LSTM_CELL_STATIC static __attribute__((unused))
#else
#define PB_LSTM_CELL_STATIC static
#endif

/* Saturation to int16 and int8. */
static inline int32_t pb_lstm_sat16(int32_t v, int32_t ssat)
{
#if defined(PB_LSTM_CELL_DSP)
    if (ssat) {
        return __ssat(v, 16);
    }
#endif
    (void)ssat;
    return PB_CLAMP(v, -32768, 32767);
}

static inline int32_t pb_lstm_sat8(int32_t v, int32_t ssat)
{
#if defined(PB_LSTM_CELL_DSP)
    if (ssat) {
        return __ssat(v, 8);
    }
#endif
    (void)ssat;
    return PB_CLAMP(v, -128, 127);
}

/* (a * b + 2^31) >> 32: the rounded high word of the 64-bit product (SMMULR). */
static inline int32_t pb_lstm_smmulr(int32_t a, int32_t b)
{
#if defined(PB_LSTM_CELL_DSP)
    int32_t r;
    __asm__("smmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
#else
    return (int32_t)(((int64_t)a * (int64_t)b + ((int64_t)1 << 31)) >> 32);
#endif
}

/* TFLite's MultiplyByQuantizedMultiplier with a right shift (rshift >= 0) and a multiplier
 * of at least 0 (never INT32_MIN, so the high multiply cannot saturate): the high multiply
 * as pb_common.h's, and the reference's rounding shift with a 32-bit mask (rshift < 32),
 * cheaper than pb_rounding_divide_by_pot's 64-bit one on a 32-bit core. */
static inline int32_t pb_lstm_requant_wide(int32_t acc, int32_t mult, int32_t rshift)
{
    const int32_t x = pb_rounding_doubling_high_mul(acc, mult);
    const int32_t mask = (int32_t)(((uint32_t)1 << rshift) - 1u);
    const int32_t threshold = (mask >> 1) + (int32_t)((uint32_t)x >> 31);
    return (x >> rshift) + ((x & mask) > threshold);
}

/* TFLite's MultiplyByQuantizedMultiplier. With fast set, the generator proved no shift a
 * left shift and every |2 * acc| below 2^31: the rounded high multiply of 2 * acc is then
 * the saturating rounding doubling high multiply exactly, and subtracting 1 from negative
 * values before the rounding shift rounds their halves away from zero, as the reference. */
static inline int32_t pb_lstm_requant(int32_t acc, int32_t mult, int32_t shift, int32_t fast)
{
    if (fast) {
        const int32_t v = pb_lstm_smmulr((int32_t)((uint32_t)acc << 1), mult);
        if (shift == 0) {
            return v;
        }
        return (v - (int32_t)((uint32_t)v >> 31) + ((int32_t)1 << (-shift - 1))) >> -shift;
    }
    if (shift <= 0) {
        return pb_lstm_requant_wide(acc, mult, -shift);
    }
    return pb_mul_by_quantized_mult_pos(acc, mult, shift);
}

/* int16 sigmoid, Q3.12 in, Q0.15 out: the input times 3 on the table's grid (1/24 per node
 * with 9 fraction bits), linear interpolation, sigmoid(-x) = 1 - sigmoid(x). table: 256
 * nodes of sigmoid on a 1/24 grid, Q0.16 (the parameter structs' `sigmoid`). */
PB_LSTM_CELL_STATIC int32_t pb_lstm_sigmoid(const uint16_t *table, int32_t x)
{
    const int32_t v = x * 3;
    const uint32_t ax = (uint32_t)(v < 0 ? -v : v);
    const uint32_t node = ax >> 9;
    uint32_t r = 0x7FFFu << 10;
    if (node < 255u) {
        const uint32_t a = table[node];
        r = (a << 9) + (ax & 0x1FFu) * (table[node + 1u] - a);
    }
    r = v >= 0 ? r + (1u << 9) : (1u << 25) - r + (1u << 9) - 1u;
    return (int32_t)(r >> 10);
}

/* int16 tanh to Q0.15: the input rescaled by (x * mult + round) >> shift to the grid of the
 * same table at half its step, tanh(x) = 2 * sigmoid(2x) - 1. */
PB_LSTM_CELL_STATIC int32_t pb_lstm_tanh(const uint16_t *table, int32_t x, int32_t mult, int32_t shift)
{
    const int32_t round = shift > 0 ? (int32_t)1 << (shift - 1) : 0;
    const int32_t v = (x * mult + round) >> shift;
    const uint32_t ax = (uint32_t)(v < 0 ? -v : v);
    const uint32_t node = ax >> 8;
    int32_t r = 0xFFFF << 8;
    if (node < 255u) {
        const uint32_t a = table[node];
        r = (int32_t)((a << 8) + (ax & 0xFFu) * (table[node + 1u] - a));
    }
    r = v >= 0 ? r - (1 << 23) + (1 << 7) : -r + (1 << 23) + (1 << 7) - 1;
    return r >> 8;
}

/* A unit's four gates, input, forget, cell and output: their activations (sigmoid,
 * sigmoid, tanh, sigmoid, Q0.15) in place of their int16 pre-activations. */
static inline void pb_lstm_activate(const uint16_t *table, int32_t *gates)
{
    gates[0] = pb_lstm_sigmoid(table, gates[0]);
    gates[1] = pb_lstm_sigmoid(table, gates[1]);
    gates[2] = pb_lstm_tanh(table, gates[2], 3, 0);
    gates[3] = pb_lstm_sigmoid(table, gates[3]);
}

/* A unit's new cell state from its gates' activations: forget * cell + input * cell gate,
 * each product rescaled to the cell's scale and saturated, the sum saturated, then clipped
 * to [-cell_clip, cell_clip] (cell_clip < 0: not clipped). Stored in *cell and returned;
 * the caller takes the unit's hidden value from it: hidden_zp + tanh(cell) * output gate,
 * rescaled by (hidden_mult, hidden_shift), clamped to the hidden state's type. */
static inline int32_t pb_lstm_cell(const int32_t *gates, int16_t *cell, int32_t forget_mult, int32_t forget_shift,
                                   int32_t update_mult, int32_t update_shift, int32_t cell_clip, int32_t fast,
                                   int32_t ssat)
{
    int32_t c = pb_lstm_sat16(pb_lstm_requant(gates[1] * *cell, forget_mult, forget_shift, fast), ssat) +
                pb_lstm_sat16(pb_lstm_requant(gates[0] * gates[2], update_mult, update_shift, fast), ssat);
    c = pb_lstm_sat16(c, ssat);
    if (cell_clip >= 0) {
        c = PB_CLAMP(c, -cell_clip, cell_clip);
    }
    *cell = (int16_t)c;
    return c;
}

#endif /* PB_LSTM_CELL_H */
