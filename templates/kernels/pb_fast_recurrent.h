/* protobrain: what the fast tiers' int8 LSTM and SVDF (dsp/ and mve/ pb_lstm.c, pb_svdf.c)
 * share, all but their dot products: the parameter structs, and the kernels' loops, which
 * take the tier's dot products as arguments. The loops are always inlined into the tier's
 * entry points, where each dot product becomes a direct call of the tier's own function,
 * inlined in turn, so a tier's kernel compiles as if written out in its own file.
 *
 * The generator (protobrain/compiler/ops/tiers/recurrent.py) packs the rows of the LSTM's
 * gate matrices and of the SVDF's feature matrix into words, each row zero-padded to the
 * tier's block (4 bytes for the DSP tier's SMLAD pairs, 16 for one Helium vector): an LSTM
 * unit's four gate rows (input, forget, cell, output) interleaved block by block, then its
 * rows' constants (the input layer's four, the recurrent layer's four, the input offsets
 * folded in); the SVDF's
 * filters padded to a multiple of four with zero rows. The rest is the portable kernels'
 * arithmetic (pb_lstm_cell.h), its requantizations one rounded high multiply where the
 * generator proves that exact (fast), saturating with SSAT. */
#ifndef PB_FAST_RECURRENT_H
#define PB_FAST_RECURRENT_H

#include <string.h>

#include "pb_common.h"
#include "pb_lstm_cell.h"

#if defined(__GNUC__)
#define PB_FAST_RECURRENT_INLINE inline __attribute__((always_inline))
#else
#define PB_FAST_RECURRENT_INLINE inline
#endif

typedef struct {
    int32_t batches, steps, input_size, units;
    int32_t time_major;
    int32_t input_words, unit_words;  /* one packed row: input_size and units rounded up to the tier's block */
    const int32_t *w_input;           /* [units][4 gates][input_words] int8 */
    const int32_t *w_recurrent;       /* [units][4 gates][unit_words] int8 */
    const int32_t *bias;              /* [units][2][4 gates]: the input rows' constants, the recurrent rows' */
    const int32_t *mults, *shifts;    /* per gate: the 4 input layers', then the 4 recurrent ones' */
    int32_t cell_tanh_mult, cell_tanh_shift;
    int32_t forget_mult, forget_shift;
    int32_t update_mult, update_shift;
    int32_t hidden_mult, hidden_shift, hidden_zp, hidden_min, hidden_max;
    int32_t cell_clip;
    int32_t fast;                     /* every requantization as one rounded high multiply */
    int32_t wide;                     /* (DSP tier) rows as int16 pairs, twice the words */
    const uint16_t *sigmoid;          /* the sigmoid table's 256 nodes and a 257th, 0xFFFF */
    const int32_t *sigmoid_words;     /* (DSP tier, wide) [384], [512]: the sigmoid's and the tanh's */
    const int32_t *tanh_words;        /* interpolation as SMLAD words (pb_dsp_lstm_sigmoid); else NULL */
} pb_fast_lstm_params_t;

typedef struct {
    int32_t batches, input_size, filters, units, rank, memory;
    int32_t state_zp, state_min, state_max;
    int32_t feature_mult, feature_shift;
    int32_t output_mult, output_shift, output_zp;
    int32_t input_words;              /* one packed feature row: input_size rounded up to the tier's block */
    const int32_t *w_feature;         /* [filters rounded up to 4][input_words] int8 */
    const int32_t *feature_bias;      /* [filters rounded up to 4]: -input_zp * row sum */
    const int8_t *w_time;             /* [filters][memory], int8 state */
    const int32_t *w_time_wide;       /* (DSP tier, one-pass form) w_time as int16 in SXTB16 order, or NULL */
    const int16_t *w_time16;          /* [filters][memory], int16 state */
    const int32_t *unit_bias;         /* [units] */
    int32_t fast;                     /* requantize with one rounded high multiply */
    int32_t fast_feature;             /* the same for the feature requantization alone */
    int32_t wide;                     /* (DSP tier) rows as int16 pairs, twice the words */
} pb_fast_svdf_params_t;

/* A tier's dot products. dot4: acc[k] += the dot product of x (n int8 values, any
 * alignment) with row k of w, k < 4, rows of `words` packed words each, zero beyond n,
 * never reading x past its end. dot_s8, dot_s16: acc + the dot product of n int8 (int16)
 * values of a and b, any alignment. Sums wrap like int32 accumulators. */
typedef void (*pb_fast_dot4_t)(const int8_t *x, int32_t n, const int32_t *w, int32_t words, int32_t *acc);
typedef int32_t (*pb_fast_dot_s8_t)(const int8_t *a, const int8_t *b, int32_t n, int32_t acc);
typedef int32_t (*pb_fast_dot_s16_t)(const int16_t *a, const int16_t *b, int32_t n, int32_t acc);

/* The LSTM's int16 sigmoid (pb_lstm_sigmoid) without branches: its input is a gate's
 * saturated int16 sum, so the table's node, at most 192, never reaches the saturated end;
 * the sign's two forms as one XOR with the sign mask. */
static PB_FAST_RECURRENT_INLINE int32_t pb_fast_lstm_sigmoid(const uint16_t *table, int32_t x)
{
    const int32_t v = x * 3, s = v >> 31;
    const uint32_t ax = (uint32_t)((v ^ s) - s), node = ax >> 9, a = table[node];
    const uint32_t r = (a << 9) + (ax & 0x1FFu) * (table[node + 1u] - a);
    /* v >= 0: r + 2^9; v < 0: 2^25 - r + 2^9 - 1, where ~r = -r - 1 */
    return (int32_t)(((r ^ (uint32_t)s) + (1u << 9) + ((uint32_t)s & (1u << 25))) >> 10);
}

/* The int16 tanh (pb_lstm_tanh) of v, its input already on the table's grid, without
 * branches: |v| clamped to 0xFFFF lands on node 255 for every |v| >= 255 * 256, whose value
 * and the 257th node the generator appends are both 0xFFFF, the saturated value. */
static PB_FAST_RECURRENT_INLINE int32_t pb_fast_lstm_tanh(const uint16_t *table, int32_t v)
{
    const int32_t s = v >> 31;
    uint32_t ax = (uint32_t)((v ^ s) - s);
    ax = ax < 0xFFFFu ? ax : 0xFFFFu;
    {
        const uint32_t node = ax >> 8, a = table[node];
        const int32_t r = (int32_t)((a << 8) + (ax & 0xFFu) * (table[node + 1u] - a));
        /* v >= 0: r - 2^23 + 2^7; v < 0: -r + 2^23 + 2^7 - 1 */
        return ((r ^ s) + (1 << 7) + (s & (1 << 24)) - (1 << 23)) >> 8;
    }
}

/* A requantization with its constants taken apart once: with fast set (the generator proved
 * no shift a left shift and every |2 * acc| below 2^31), one rounded high
 * multiply of 2 * acc, and the rounding shift with its round constant precomputed; else
 * TFLite's own steps (pb_lstm_requant). */
typedef struct {
    int32_t mult, shift, rshift, round, negative; /* negative: all ones where rshift >= 1 */
} pb_fast_rq_t;

static PB_FAST_RECURRENT_INLINE pb_fast_rq_t pb_fast_rq(int32_t mult, int32_t shift)
{
    pb_fast_rq_t q;
    q.mult = mult;
    q.shift = shift;
    q.rshift = shift < 0 ? -shift : 0;
    q.round = shift < 0 ? (int32_t)1 << (-shift - 1) : 0;
    q.negative = shift < 0 ? -1 : 0;
    return q;
}

static PB_FAST_RECURRENT_INLINE int32_t pb_fast_requant(int32_t acc, const pb_fast_rq_t *q, int32_t fast)
{
    if (fast) {
        const int32_t v = pb_lstm_smmulr((int32_t)((uint32_t)acc << 1), q->mult);
        /* negative values less 1 before a rounding shift: their halves round away from zero */
        return (v + ((v >> 31) & q->negative) + q->round) >> q->rshift;
    }
    return pb_lstm_requant(acc, q->mult, q->shift, 0);
}

/* Units per pass of the step's three phases: their gate accumulators live on the stack. */
#define PB_FAST_LSTM_CHUNK 8

/* Phases 2 and 3 of a chunk of `count` units, the scalar form, unit by unit (a unit's
 * values stay in registers): its gates' activations, its new cell state (in cell[u]) and
 * hidden value (in out[u]). acc[u][k]: gate k's input layer's accumulator, acc[u][4 + k] its
 * recurrent layer's. A tier may bring its own form of the same (the Helium tier's, four units a
 * vector). */
typedef void (*pb_fast_lstm_finish_t)(const pb_fast_lstm_params_t *p, int32_t count, int32_t (*acc)[8],
                                      int16_t *cell, int8_t *out);

static PB_FAST_RECURRENT_INLINE void pb_fast_lstm_finish_as(const pb_fast_lstm_params_t *p, int32_t count,
                                                            int32_t (*acc)[8], int16_t *cell, int8_t *out,
                                                            int32_t fast)
{
    const pb_fast_rq_t qf = pb_fast_rq(p->forget_mult, p->forget_shift);
    const pb_fast_rq_t qu = pb_fast_rq(p->update_mult, p->update_shift);
    const pb_fast_rq_t qh = pb_fast_rq(p->hidden_mult, p->hidden_shift);
    const int32_t tanh_mult = p->cell_tanh_mult, tanh_shift = p->cell_tanh_shift;
    const int32_t tanh_round = tanh_shift > 0 ? (int32_t)1 << (tanh_shift - 1) : 0;
    const int32_t clip = p->cell_clip, hidden_zp = p->hidden_zp;
    int32_t u;
    pb_fast_rq_t qg[8];
    int32_t k;
    for (k = 0; k < 8; ++k) {
        qg[k] = pb_fast_rq(p->mults[k], p->shifts[k]);
    }
    for (u = 0; u < count; ++u) {
        int32_t g[4], v;
        for (k = 0; k < 4; ++k) {
            g[k] = pb_lstm_sat16(pb_lstm_sat16(pb_fast_requant(acc[u][k], &qg[k], fast), 1) +
                                 pb_lstm_sat16(pb_fast_requant(acc[u][4 + k], &qg[4 + k], fast), 1), 1);
        }
        g[0] = pb_fast_lstm_sigmoid(p->sigmoid, g[0]);
        g[1] = pb_fast_lstm_sigmoid(p->sigmoid, g[1]);
        g[2] = pb_fast_lstm_tanh(p->sigmoid, g[2] * 3);
        g[3] = pb_fast_lstm_sigmoid(p->sigmoid, g[3]);
        v = pb_lstm_sat16(pb_fast_requant(g[1] * cell[u], &qf, fast), 1) +
            pb_lstm_sat16(pb_fast_requant(g[0] * g[2], &qu, fast), 1);
        v = pb_lstm_sat16(v, 1);
        if (clip >= 0) {
            v = PB_CLAMP(v, -clip, clip);
        }
        cell[u] = (int16_t)v;
        v = pb_fast_lstm_tanh(p->sigmoid, (v * tanh_mult + tanh_round) >> tanh_shift);
        /* the int8 hidden state's range is int8's whole range (hidden_min, hidden_max) */
        out[u] = (int8_t)pb_lstm_sat8(hidden_zp + pb_fast_requant(v * g[3], &qh, fast), 1);
    }
}

/* pb_fast_lstm_finish_as with `fast` a constant in each form. */
PB_LSTM_CELL_STATIC void pb_fast_lstm_finish(const pb_fast_lstm_params_t *p, int32_t count, int32_t (*acc)[8],
                                             int16_t *cell, int8_t *out)
{
    if (p->fast) {
        pb_fast_lstm_finish_as(p, count, acc, cell, out, 1);
    } else {
        pb_fast_lstm_finish_as(p, count, acc, cell, out, 0);
    }
}

/* The LSTM, a chunk of units at a time: phase 1, each unit's four gate rows of both matrices
 * (dot4, the rows interleaved); phases 2 and 3 (finish): the gates' activations gate by
 * gate, then the cell state and hidden value unit by unit. The new hidden values go to the
 * step's output row first, and to the hidden state once every unit has read the old one. */
static PB_FAST_RECURRENT_INLINE void pb_fast_lstm_s8_with(const pb_fast_lstm_params_t *p, const int8_t *input,
                                                           const int8_t *hidden, const int16_t *cell,
                                                           int8_t *output, pb_fast_dot4_t dot4,
                                                           pb_fast_lstm_finish_t finish)
{
    const int32_t n = p->units, depth = p->input_size;
    int32_t acc[PB_FAST_LSTM_CHUNK][8];
    int32_t b, t, u0, u;
    for (b = 0; b < p->batches; ++b) {
        int8_t *h = (int8_t *)hidden + b * n;
        int16_t *c = (int16_t *)cell + b * n;
        for (t = 0; t < p->steps; ++t) {
            const int32_t row = p->time_major ? t * p->batches + b : b * p->steps + t;
            const int8_t *x = input + row * depth;
            int8_t *out = output + row * n;
            const int32_t *wi = p->w_input, *wr = p->w_recurrent, *bias = p->bias;
            for (u0 = 0; u0 < n; u0 += PB_FAST_LSTM_CHUNK) {
                const int32_t count = n - u0 < PB_FAST_LSTM_CHUNK ? n - u0 : PB_FAST_LSTM_CHUNK;
                for (u = 0; u < count; ++u) {
                    memcpy(acc[u], bias, sizeof(acc[u]));
                    dot4(x, depth, wi, p->input_words, acc[u]);
                    dot4(h, n, wr, p->unit_words, acc[u] + 4);
                    wi += 4 * p->input_words;
                    wr += 4 * p->unit_words;
                    bias += 8;
                }
                finish(p, count, acc, c + u0, out + u0);
            }
            /* every unit has read the old hidden state: the new one replaces it */
            memcpy(h, out, (size_t)n);
        }
    }
}

/* The SVDF's state moved down by one value of `size` bytes, as memmove(s, s + size,
 * bytes - size): forward, 16 bytes per pass through unaligned word loads and stores (one
 * LDR or STR each on these cores), all of a pass's loads before its stores, so no load
 * reads a byte already overwritten. */
static PB_FAST_RECURRENT_INLINE void pb_fast_shift_state(uint8_t *s, int32_t bytes, int32_t size)
{
    const int32_t n = bytes - size;
    const uint8_t *from = s + size;
    int32_t i = 0;
    for (; i + 16 <= n; i += 16) {
        uint32_t w[4];
        memcpy(w, from + i, 16);
        memcpy(s + i, w, 16);
    }
    for (; i + 4 <= n; i += 4) {
        uint32_t w;
        memcpy(&w, from + i, 4);
        memcpy(s + i, &w, 4);
    }
    for (; i < n; ++i) {
        s[i] = from[i];
    }
}

/* The SVDF's requantizations, their constants taken apart once. A right shift rs >= 1
 * (wide set) is one 64-bit multiply-accumulate for any acc, exact with no bound to prove:
 * the doubling high multiply floor((acc * mult + 2^30) / 2^31) and the rounding shift
 * floor((q + 2^(rs-1) - (q < 0)) / 2^rs) nest into floor((acc * mult + start) / 2^(31+rs)),
 * start = 2^30 + (2^(rs-1) - (q < 0)) * 2^31, whose high word shifted by rs - 1 is the
 * result. q < 0 is read from acc < 0: the multiplier is not negative, so the two differ only
 * where q is 0, and there both round to 0. Other shifts: pb_lstm_requant. */
typedef struct {
    int32_t mult, shift, fast, wide, rshift_less1;
    int64_t start;
} pb_fast_svdf_rq_t;

static PB_FAST_RECURRENT_INLINE pb_fast_svdf_rq_t pb_fast_svdf_rq(int32_t mult, int32_t shift, int32_t fast)
{
    pb_fast_svdf_rq_t q;
    q.mult = mult;
    q.shift = shift;
    q.fast = fast;
    q.wide = shift <= -1;
    q.rshift_less1 = q.wide ? -shift - 1 : 0;
    q.start = ((int64_t)1 << 30) + (q.wide ? (int64_t)1 << (-shift + 30) : 0);
    return q;
}

/* The right-shift form alone (q->wide set). */
static PB_FAST_RECURRENT_INLINE int32_t pb_fast_svdf_requant_right(int32_t acc, const pb_fast_svdf_rq_t *q)
{
    const int64_t sum = (int64_t)acc * q->mult + q->start - (int64_t)((uint32_t)acc >> 31 << 31);
    return (int32_t)(sum >> 32) >> q->rshift_less1;
}

static PB_FAST_RECURRENT_INLINE int32_t pb_fast_svdf_requant(int32_t acc, const pb_fast_svdf_rq_t *q)
{
    if (q->wide) {
        return pb_fast_svdf_requant_right(acc, q);
    }
    return pb_lstm_requant(acc, q->mult, q->shift, q->fast);
}

/* Filters f .. f + count - 1's features from their accumulators acc into slot `slot` of each
 * filter's memory in sb (int8, or int16 with state16 set): requantized, saturated to the
 * state type (its range is the type's), its zero point added after that (an int8 store may
 * wrap, as TFLite Micro's does). */
static PB_FAST_RECURRENT_INLINE void pb_fast_svdf_put(void *sb, int32_t at, int32_t v, int32_t state_zp,
                                                       int32_t state16)
{
    if (state16) {
        ((int16_t *)sb)[at] = (int16_t)(state_zp + pb_lstm_sat16(v, 1));
    } else {
        ((int8_t *)sb)[at] = (int8_t)(state_zp + pb_lstm_sat8(v, 1));
    }
}

static PB_FAST_RECURRENT_INLINE void pb_fast_svdf_store(const pb_fast_svdf_rq_t *q, int32_t memory, int32_t state_zp,
                                                         const int32_t *acc, int32_t f, int32_t count, void *sb,
                                                         int32_t state16, int32_t slot)
{
    int32_t k, at = f * memory + slot;
    if (q->wide) { /* the form tested once, outside the loop */
        for (k = 0; k < count; ++k, at += memory) {
            pb_fast_svdf_put(sb, at, pb_fast_svdf_requant_right(acc[k], q), state_zp, state16);
        }
    } else {
        for (k = 0; k < count; ++k, at += memory) {
            pb_fast_svdf_put(sb, at, pb_lstm_requant(acc[k], q->mult, q->shift, q->fast), state_zp, state16);
        }
    }
}

/* The SVDF's feature dot products of one batch, four filters at a time (dot4), into slot
 * `slot` of each filter's memory in sb (pb_fast_svdf_store): the newest, memory - 1, where
 * the state was shifted first; 0 where a rotating kernel drops the oldest value as it goes
 * (dsp/pb_svdf.c). The constants are read into locals once: the state stores may alias
 * anything, and would make the compiler read them again. */
static PB_FAST_RECURRENT_INLINE void pb_fast_svdf_features(const pb_fast_svdf_params_t *p, const int8_t *x,
                                                            void *sb, int32_t state16, int32_t slot,
                                                            pb_fast_dot4_t dot4)
{
    const pb_fast_svdf_rq_t q = pb_fast_svdf_rq(p->feature_mult, p->feature_shift, p->fast_feature);
    const int32_t filters = p->filters, memory = p->memory, state_zp = p->state_zp;
    const int32_t input_size = p->input_size, words = p->input_words;
    const int32_t *w = p->w_feature, *bias = p->feature_bias;
    int32_t f, k;
    for (f = 0; f < filters; f += 4) {
        int32_t acc[4];
        for (k = 0; k < 4; ++k) {
            acc[k] = bias[f + k];
        }
        dot4(x, input_size, w + f * words, words, acc);
        pb_fast_svdf_store(&q, memory, state_zp, acc, f, filters - f < 4 ? filters - f : 4, sb, state16, slot);
    }
}

/* One SVDF output from its unit's time accumulator. */
static PB_FAST_RECURRENT_INLINE int8_t pb_fast_svdf_output(const pb_fast_svdf_rq_t *q, int32_t output_zp, int32_t acc)
{
    return (int8_t)pb_lstm_sat8(pb_fast_svdf_requant(acc, q) + output_zp, 1);
}

/* The SVDF with an int8 state: the state shifted left by one value, each filter's newest
 * slot filled (dot4), then each unit's time weights over its filters' memory (dot). */
static PB_FAST_RECURRENT_INLINE void pb_fast_svdf_s8_with(const pb_fast_svdf_params_t *p, const int8_t *input,
                                                           const int8_t *state, int8_t *output,
                                                           pb_fast_dot4_t dot4, pb_fast_dot_s8_t dot)
{
    int8_t *s = (int8_t *)state;
    const int32_t per_batch = p->filters * p->memory, n = p->rank * p->memory, units = p->units;
    const pb_fast_svdf_rq_t q = pb_fast_svdf_rq(p->output_mult, p->output_shift, p->fast);
    const int32_t output_zp = p->output_zp;
    const int8_t *w_time = p->w_time;
    const int32_t *unit_bias = p->unit_bias;
    int32_t b, u;
    pb_fast_shift_state((uint8_t *)s, p->batches * per_batch, 1);
    for (b = 0; b < p->batches; ++b) {
        int8_t *sb = s + b * per_batch;
        int8_t *out = output + b * units;
        pb_fast_svdf_features(p, input + b * p->input_size, sb, 0, p->memory - 1, dot4);
        for (u = 0; u < units; ++u) {
            out[u] = pb_fast_svdf_output(&q, output_zp, dot(w_time + u * n, sb + u * n, n, unit_bias[u]));
        }
    }
}

/* The same with an int16 state. */
static PB_FAST_RECURRENT_INLINE void pb_fast_svdf_s8_s16_with(const pb_fast_svdf_params_t *p, const int8_t *input,
                                                               const int16_t *state, int8_t *output,
                                                               pb_fast_dot4_t dot4, pb_fast_dot_s16_t dot)
{
    int16_t *s = (int16_t *)state;
    const int32_t per_batch = p->filters * p->memory, n = p->rank * p->memory, units = p->units;
    const pb_fast_svdf_rq_t q = pb_fast_svdf_rq(p->output_mult, p->output_shift, p->fast);
    const int32_t output_zp = p->output_zp;
    const int16_t *w_time = p->w_time16;
    const int32_t *unit_bias = p->unit_bias;
    int32_t b, u;
    pb_fast_shift_state((uint8_t *)s, p->batches * per_batch * 2, 2);
    for (b = 0; b < p->batches; ++b) {
        int16_t *sb = s + b * per_batch;
        int8_t *out = output + b * units;
        pb_fast_svdf_features(p, input + b * p->input_size, sb, 1, p->memory - 1, dot4);
        for (u = 0; u < units; ++u) {
            out[u] = pb_fast_svdf_output(&q, output_zp, dot(w_time + u * n, sb + u * n, n, unit_bias[u]));
        }
    }
}

#endif /* PB_FAST_RECURRENT_H */
