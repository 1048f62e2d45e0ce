/* UNIDIRECTIONAL_SEQUENCE_LSTM, int8, DSP tier (see pb_lstm.h): the fast tiers' step
 * (pb_fast_recurrent.h) over this tier's dot product; with the wide rows, the step's input
 * and hidden vectors sign-extended once per step rather than once per unit. */
#include "pb_lstm.h"

/* The widened step takes input and hidden vectors of at most this many values; longer ones
 * take the general step. */
#define PB_DSP_LSTM_WIDEN_MAX 128
/* Units per pass of the widened step: their accumulators on the stack, 1 KiB. */
#define PB_DSP_LSTM_CHUNK 32

/* One widened word of x (two LDRD-loaded halves) into the four rows' accumulators: on a core
 * with the DSP extension one asm block, the rows' eight words by two LDMs into four fixed
 * registers (an LDM's list fills in register order, so the compiler may not pick them);
 * elsewhere the same in C. */
#ifdef PB_SIMD_DSP
#define PB_DSP_LSTM_STEP()                                                                         \
    do {                                                                                           \
        register uint32_t w0_ __asm__("r8"), w1_ __asm__("r9"), w2_ __asm__("r10"), w3_ __asm__("r11"); \
        uint32_t xl_, xh_;                                                                         \
        __asm__ volatile("ldrd %[xl], %[xh], [%[xp]], #8\n\t"                                      \
                         "ldmia %[wp]!, {%[w0], %[w1], %[w2], %[w3]}\n\t"                          \
                         "smlad %[a0], %[w0], %[xl], %[a0]\n\t"                                    \
                         "smlad %[a0], %[w1], %[xh], %[a0]\n\t"                                    \
                         "smlad %[a1], %[w2], %[xl], %[a1]\n\t"                                    \
                         "smlad %[a1], %[w3], %[xh], %[a1]\n\t"                                    \
                         "ldmia %[wp]!, {%[w0], %[w1], %[w2], %[w3]}\n\t"                          \
                         "smlad %[a2], %[w0], %[xl], %[a2]\n\t"                                    \
                         "smlad %[a2], %[w1], %[xh], %[a2]\n\t"                                    \
                         "smlad %[a3], %[w2], %[xl], %[a3]\n\t"                                    \
                         "smlad %[a3], %[w3], %[xh], %[a3]"                                          \
                         : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [xp] "+r"(xp),  \
                           [wp] "+r"(w), [xl] "=&r"(xl_), [xh] "=&r"(xh_), [w0] "=&r"(w0_),             \
                           [w1] "=&r"(w1_), [w2] "=&r"(w2_), [w3] "=&r"(w3_)                            \
                         :                                                                         \
                         : "memory");                                                              \
    } while (0)
#else
#define PB_DSP_LSTM_STEP()                                                                         \
    do {                                                                                           \
        uint32_t xl_, xh_, lo_, hi_;                                                               \
        pb_ldrd_post(&xp, &xl_, &xh_);                                                             \
        pb_ldrd_post(&w, &lo_, &hi_);                                                              \
        a0 = pb_smlad(hi_, xh_, pb_smlad(lo_, xl_, a0));                                           \
        pb_ldrd_post(&w, &lo_, &hi_);                                                              \
        a1 = pb_smlad(hi_, xh_, pb_smlad(lo_, xl_, a1));                                           \
        pb_ldrd_post(&w, &lo_, &hi_);                                                              \
        a2 = pb_smlad(hi_, xh_, pb_smlad(lo_, xl_, a2));                                           \
        pb_ldrd_post(&w, &lo_, &hi_);                                                              \
        a3 = pb_smlad(hi_, xh_, pb_smlad(lo_, xl_, a3));                                           \
    } while (0)
#endif

/* acc[k] = bias[k] + the dot product of the widened x (`words` words of x, two buffer words
 * each) with the wide row k at *wp, k < 4; *wp moves past the four rows. Two words per pass. */
static PB_ALWAYS_INLINE void pb_dsp_lstm_dot4(const uint32_t *x, int32_t words, const void **wp, const int32_t *bias,
                                              int32_t *acc)
{
    const void *xp = x, *w = *wp;
    int32_t a0 = bias[0], a1 = bias[1], a2 = bias[2], a3 = bias[3];
    int32_t k;
    if (words & 1) {
        PB_DSP_LSTM_STEP();
    }
    for (k = words >> 1; k > 0; --k) {
        PB_DSP_LSTM_STEP();
        PB_DSP_LSTM_STEP();
    }
    *wp = w;
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* ra + the rounded high word of a * b (SMMLAR): (ra * 2^32 + a * b + 2^31) >> 32. */
static PB_ALWAYS_INLINE int32_t pb_dsp_lstm_smmlar(int32_t a, int32_t b, int32_t ra)
{
#ifdef PB_SIMD_DSP
    int32_t r;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(ra));
    return r;
#else
    return ra + (int32_t)(((int64_t)a * b + ((int64_t)1 << 31)) >> 32);
#endif
}

/* pb_fast_requant's fast form for a right shift rshift >= 1 (round = 2^(rshift-1)): the
 * round and the negative values' less 1 added to the high word inside SMMLAR. The less 1
 * follows acc's sign rather than the high word's: with a multiplier of at least 0 they
 * differ only where the high word is 0, and (round - 1) >> rshift is 0 as round >> rshift. */
static PB_ALWAYS_INLINE int32_t pb_dsp_lstm_rq(int32_t acc, int32_t mult, int32_t round, int32_t rshift)
{
    return pb_dsp_lstm_smmlar((int32_t)((uint32_t)acc << 1), mult, round + (acc >> 31)) >> rshift;
}

/* The sigmoid (pb_fast_lstm_sigmoid) by its SMLAD words (the parameters' sigmoid_words): the
 * input times 3 on the grid of 2^9, node j = v >> 9 of the signed grid (-192..191 for an int16
 * input) holding T(j) - 2^15 and T(j+1) - T(j), where the nodes below 0 are the mirror the
 * portable form reaches through |v|; one SMLAD with (frac, 512) interpolates, its start adds
 * the 2^15 back, the rounding, and the negative side's less 1. */
static PB_ALWAYS_INLINE int32_t pb_dsp_lstm_sigmoid(const int32_t *words, int32_t x)
{
    const int32_t v = x * 3;
    const uint32_t frac = ((uint32_t)(v & 0x1FF) << 16) | 512u;
    return (int32_t)((uint32_t)pb_smlad((uint32_t)words[192 + (v >> 9)], frac, (1 << 24) + 512 + (v >> 31)) >> 10);
}

/* The tanh (pb_fast_lstm_tanh) of v on the table's grid by its SMLAD words (tanh_words): v
 * clamped to 17 bits (the portable form's saturated end, node 255, for every |v| >= 255 * 256),
 * node j = v >> 8 of -256..255, as pb_dsp_lstm_sigmoid. */
static PB_ALWAYS_INLINE int32_t pb_dsp_lstm_tanh(const int32_t *words, int32_t v)
{
    uint32_t frac;
#ifdef PB_SIMD_DSP
    v = __ssat(v, 17);
#else
    v = PB_CLAMP(v, -65536, 65535);
#endif
    frac = ((uint32_t)(v & 0xFF) << 16) | 256u;
    return pb_smlad((uint32_t)words[256 + (v >> 8)], frac, 128 + (v >> 31)) >> 8;
}

/* Phase 2 for gate k of a chunk (pb_fast_lstm_finish_as's), unit by unit with the gate's two
 * requantizations' constants in registers: the activation in place of acc[u][k]. */
static PB_ALWAYS_INLINE void pb_dsp_lstm_gate(const pb_fast_lstm_params_t *p, int32_t k, int32_t count,
                                              int32_t (*acc)[8], int32_t is_tanh, int32_t by_words)
{
    const int32_t *words = is_tanh ? p->tanh_words : p->sigmoid_words;
    const int32_t mi = p->mults[k], si = -p->shifts[k], ri = (int32_t)1 << (si - 1);
    const int32_t mr = p->mults[4 + k], sr = -p->shifts[4 + k], rr = (int32_t)1 << (sr - 1);
    const uint16_t *table = p->sigmoid;
    int32_t *a = &acc[0][k];
    int32_t u;
    for (u = 0; u < count; ++u, a += 8) {
        const int32_t g = pb_lstm_sat16(pb_lstm_sat16(pb_dsp_lstm_rq(a[0], mi, ri, si), 1) +
                                        pb_lstm_sat16(pb_dsp_lstm_rq(a[4], mr, rr, sr), 1), 1);
        if (by_words) {
            a[0] = is_tanh ? pb_dsp_lstm_tanh(words, g * 3) : pb_dsp_lstm_sigmoid(words, g);
        } else {
            a[0] = is_tanh ? pb_fast_lstm_tanh(table, g * 3) : pb_fast_lstm_sigmoid(table, g);
        }
    }
}

/* Phases 2 and 3 of a chunk (pb_fast_lstm_finish) where every requantization is the fast
 * form with a right shift of at least 1 (pb_dsp_lstm_rq): gate by gate, then unit by unit,
 * the activations by their SMLAD words with by_words set. */
static PB_ALWAYS_INLINE void pb_dsp_lstm_finish_as(const pb_fast_lstm_params_t *p, int32_t count, int32_t (*acc)[8],
                                                   int16_t *cell, int8_t *out, int32_t by_words)
{
    int32_t u;
    pb_dsp_lstm_gate(p, 0, count, acc, 0, by_words);
    pb_dsp_lstm_gate(p, 1, count, acc, 0, by_words);
    pb_dsp_lstm_gate(p, 2, count, acc, 1, by_words);
    pb_dsp_lstm_gate(p, 3, count, acc, 0, by_words);
    {
        const int32_t mf = p->forget_mult, sf = -p->forget_shift, rf = (int32_t)1 << (sf - 1);
        const int32_t mu = p->update_mult, su = -p->update_shift, ru = (int32_t)1 << (su - 1);
        const int32_t mh = p->hidden_mult, sh = -p->hidden_shift, rh = (int32_t)1 << (sh - 1);
        const int32_t tanh_mult = p->cell_tanh_mult, tanh_shift = p->cell_tanh_shift;
        const int32_t tanh_round = tanh_shift > 0 ? (int32_t)1 << (tanh_shift - 1) : 0;
        /* no clip (cell_clip < 0): a bound the saturated sum never passes */
        const int32_t clip = p->cell_clip >= 0 ? p->cell_clip : 32768, hidden_zp = p->hidden_zp;
        const uint16_t *table = p->sigmoid;
        for (u = 0; u < count; ++u) {
            const int32_t *g = acc[u];
            int32_t v = pb_lstm_sat16(pb_lstm_sat16(pb_dsp_lstm_rq(g[1] * cell[u], mf, rf, sf), 1) +
                                      pb_lstm_sat16(pb_dsp_lstm_rq(g[0] * g[2], mu, ru, su), 1), 1);
            v = v > clip ? clip : v;
            v = v < -clip ? -clip : v;
            cell[u] = (int16_t)v;
            v = (v * tanh_mult + tanh_round) >> tanh_shift;
            v = by_words ? pb_dsp_lstm_tanh(p->tanh_words, v) : pb_fast_lstm_tanh(table, v);
            /* the int8 hidden state's range is int8's whole range (hidden_min, hidden_max) */
            out[u] = (int8_t)pb_lstm_sat8(hidden_zp + pb_dsp_lstm_rq(v * g[3], mh, rh, sh), 1);
        }
    }
}

#if defined(PB_SIMD_DSP)
/* Phases 2 and 3 in assembly (pb_dsp_lstm_finish_as with its activations by their words,
 * instruction for instruction the same arithmetic): each routine holds its constants in
 * registers, or loads them by LDM from a block the step fills once, so no value is spilled.
 * A gate's pass: 24 instructions a unit (33 from C); the cell's: 48 (about 64). */
typedef struct {
    int32_t mi, ri, si;       /* the input layer's multiplier, rounding and right shift */
    int32_t mr, rr, sr;       /* the recurrent layer's */
    const int32_t *node0;     /* the activation's SMLAD words at node 0 */
    uint32_t frac;            /* the SMLAD's second operand: the grid's step below, the fraction above */
    int32_t start;            /* the SMLAD's start, before the less 1 of a negative input */
} pb_dsp_lstm_gate_k_t;

typedef struct {
    int32_t mf, rf, sf;       /* the forget product's requantization */
    int32_t mu, ru, su;       /* the update product's */
    uint32_t clip_hi, clip_lo; /* the cell's bounds, each in both halves (SSUB16 and SEL) */
    int32_t tm, tr, ts;       /* the cell onto the tanh's grid */
    const int32_t *tanh0;     /* the tanh's words at node 0 */
    uint32_t tanh_frac;       /* the tanh's SMLAD operand, as the tanh gate's frac */
    int32_t zp, mh, rh, sh;   /* the hidden state's requantization */
} pb_dsp_lstm_cell_k_t;

typedef struct {
    pb_dsp_lstm_gate_k_t gate[4];
    pb_dsp_lstm_cell_k_t cell;
} pb_dsp_lstm_k_t;

/* Gate pass: acc[u][k] = the activation of the gate's two requantized, saturated sums, for
 * count >= 1 units from a = &acc[0][k] on (rows of 8 words). */
void pb_dsp_lstm_sigmoid_pass(int32_t *a, int32_t count, const pb_dsp_lstm_gate_k_t *k);
void pb_dsp_lstm_tanh_pass(int32_t *a, int32_t count, const pb_dsp_lstm_gate_k_t *k);
/* Cell pass: the new cell state and hidden output of count >= 1 units. */
void pb_dsp_lstm_cell_pass(int32_t (*acc)[8], int16_t *cell, int8_t *out, const pb_dsp_lstm_cell_k_t *k,
                           int32_t count);

/* r0 the gate's accumulator, r1 the count (then the end), r2..r10 the constants in
 * pb_dsp_lstm_gate_k_t's order; the tanh gate saturates 3g to 17 bits first. node: the grid's
 * step (2^node); BFI writes the fraction's node bits over the top half of r9, whose low half
 * keeps the step. */
#define PB_DSP_LSTM_GATE_PASS(name, saturate, node, rescale)                               \
    PB_ASM_FUNCTION(name)                                                                  \
    "push    {r4-r11, lr}\n\t"                                                             \
    "add     r1, r0, r1, lsl #5\n\t"                                                       \
    "ldm     r2, {r2-r10}\n"                                                               \
    "1:\n\t"                                                                               \
    "ldr     r11, [r0]\n\t"                                                                \
    "ldr     r12, [r0, #16]\n\t"                                                           \
    "add     lr, r3, r11, asr #31\n\t"                                                     \
    "lsl     r11, r11, #1\n\t"                                                             \
    "smmlar  r11, r11, r2, lr\n\t"                                                         \
    "asr     r11, r11, r4\n\t"                                                             \
    "ssat    r11, #16, r11\n\t"                                                            \
    "add     lr, r6, r12, asr #31\n\t"                                                     \
    "lsl     r12, r12, #1\n\t"                                                             \
    "smmlar  r12, r12, r5, lr\n\t"                                                         \
    "asr     r12, r12, r7\n\t"                                                             \
    "ssat    r12, #16, r12\n\t"                                                            \
    "add     r11, r11, r12\n\t"                                                            \
    "ssat    r11, #16, r11\n\t"                                                            \
    "add     r11, r11, r11, lsl #1\n\t"                                                    \
    saturate                                                                               \
    "asr     r12, r11, #" #node "\n\t"                                                     \
    "ldr     r12, [r8, r12, lsl #2]\n\t"                                                   \
    "add     lr, r10, r11, asr #31\n\t"                                                    \
    "bfi     r9, r11, #16, #" #node "\n\t"                                                 \
    "smlad   r12, r12, r9, lr\n\t"                                                         \
    rescale                                                                                \
    "str     r12, [r0], #32\n\t"                                                           \
    "cmp     r0, r1\n\t"                                                                   \
    "bne     1b\n\t"                                                                       \
    "pop     {r4-r11, pc}\n\t"                                                             \
    PB_ASM_END(name)

__asm__(PB_DSP_LSTM_GATE_PASS(pb_dsp_lstm_sigmoid_pass, "", 9, "lsr     r12, r12, #10\n\t"));
__asm__(PB_DSP_LSTM_GATE_PASS(pb_dsp_lstm_tanh_pass, "ssat    r11, #17, r11\n\t", 8, "asr     r12, r12, #8\n\t"));

/* r0 the unit's activations i, f, g, o; r1 its cell state; r2 its output; r3 the
 * constants, by LDM (13 words with writeback, then 4 without); lr the end. */
__asm__(PB_ASM_FUNCTION(pb_dsp_lstm_cell_pass)
        "push    {r4-r11, lr}\n\t"
        "ldr     lr, [sp, #36]\n\t"
        "add     lr, r2, lr\n"
        "1:\n\t"
        "ldm     r0, {r4-r7}\n\t"
        "ldrsh   r8, [r1]\n\t"
        "mul     r8, r8, r5\n\t"              /* f * c */
        "mul     r9, r4, r6\n\t"              /* i * g */
        "ldm     r3!, {r10-r12}\n\t"
        "add     r11, r11, r8, asr #31\n\t"
        "lsl     r8, r8, #1\n\t"
        "smmlar  r8, r8, r10, r11\n\t"
        "asr     r8, r8, r12\n\t"
        "ssat    r8, #16, r8\n\t"
        "ldm     r3!, {r10-r12}\n\t"
        "add     r11, r11, r9, asr #31\n\t"
        "lsl     r9, r9, #1\n\t"
        "smmlar  r9, r9, r10, r11\n\t"
        "asr     r9, r9, r12\n\t"
        "ssat    r9, #16, r9\n\t"
        "add     r8, r8, r9\n\t"
        "ssat    r8, #16, r8\n\t"
        "ldm     r3!, {r10, r11}\n\t"         /* the clip: min, then max, per halfword */
        "ssub16  r9, r8, r10\n\t"
        "sel     r8, r10, r8\n\t"
        "ssub16  r9, r8, r11\n\t"
        "sel     r8, r8, r11\n\t"
        "strh    r8, [r1], #2\n\t"
        "ldm     r3!, {r10-r12}\n\t"
        "mla     r8, r8, r10, r11\n\t"
        "asr     r8, r8, r12\n\t"
        "ssat    r8, #17, r8\n\t"             /* tanh, as the tanh gate's */
        "ldm     r3!, {r10, r11}\n\t"
        "asr     r9, r8, #8\n\t"
        "ldr     r9, [r10, r9, lsl #2]\n\t"
        "bfi     r11, r8, #16, #8\n\t"
        "asr     r8, r8, #31\n\t"
        "add     r8, r8, #128\n\t"
        "smlad   r9, r9, r11, r8\n\t"
        "asr     r9, r9, #8\n\t"
        "mul     r9, r9, r7\n\t"              /* o * tanh(c) */
        "ldm     r3, {r8, r10-r12}\n\t"
        "add     r11, r11, r9, asr #31\n\t"
        "lsl     r9, r9, #1\n\t"
        "smmlar  r9, r9, r10, r11\n\t"
        "asr     r9, r9, r12\n\t"
        "add     r9, r9, r8\n\t"
        "ssat    r9, #8, r9\n\t"
        "strb    r9, [r2], #1\n\t"
        "sub     r3, r3, #52\n\t"
        "add     r0, r0, #32\n\t"
        "cmp     r2, lr\n\t"
        "bne     1b\n\t"
        "pop     {r4-r11, pc}\n\t"
        PB_ASM_END(pb_dsp_lstm_cell_pass));

/* Both halves of a word hold v's low 16 bits. */
static uint32_t pb_dsp_lstm_both(int32_t v)
{
    return ((uint32_t)v & 0xFFFFu) * 0x10001u;
}

/* The routines' constants from the parameters, once per call of the layer. */
static void pb_dsp_lstm_k(const pb_fast_lstm_params_t *p, pb_dsp_lstm_k_t *k)
{
    pb_dsp_lstm_cell_k_t *c = &k->cell;
    int32_t g;
    for (g = 0; g < 4; ++g) {
        pb_dsp_lstm_gate_k_t *q = &k->gate[g];
        const int is_tanh = g == 2;
        q->mi = p->mults[g], q->si = -p->shifts[g], q->ri = (int32_t)1 << (q->si - 1);
        q->mr = p->mults[4 + g], q->sr = -p->shifts[4 + g], q->rr = (int32_t)1 << (q->sr - 1);
        q->node0 = is_tanh ? p->tanh_words + 256 : p->sigmoid_words + 192;
        q->frac = is_tanh ? 256u : 512u;
        q->start = is_tanh ? 128 : (1 << 24) + 512;
    }
    c->mf = p->forget_mult, c->sf = -p->forget_shift, c->rf = (int32_t)1 << (c->sf - 1);
    c->mu = p->update_mult, c->su = -p->update_shift, c->ru = (int32_t)1 << (c->su - 1);
    c->mh = p->hidden_mult, c->sh = -p->hidden_shift, c->rh = (int32_t)1 << (c->sh - 1);
    /* no clip (cell_clip < 0): int16's own bounds */
    c->clip_hi = pb_dsp_lstm_both(p->cell_clip >= 0 ? p->cell_clip : 32767);
    c->clip_lo = pb_dsp_lstm_both(p->cell_clip >= 0 ? -p->cell_clip : -32768);
    c->tm = p->cell_tanh_mult, c->ts = p->cell_tanh_shift;
    c->tr = c->ts > 0 ? (int32_t)1 << (c->ts - 1) : 0;
    c->tanh0 = p->tanh_words + 256;
    c->tanh_frac = 256u;
    c->zp = p->hidden_zp;
}

static void pb_dsp_lstm_finish_k(const pb_dsp_lstm_k_t *k, int32_t count, int32_t (*acc)[8], int16_t *cell,
                                 int8_t *out)
{
    pb_dsp_lstm_sigmoid_pass(&acc[0][0], count, &k->gate[0]);
    pb_dsp_lstm_sigmoid_pass(&acc[0][1], count, &k->gate[1]);
    pb_dsp_lstm_tanh_pass(&acc[0][2], count, &k->gate[2]);
    pb_dsp_lstm_sigmoid_pass(&acc[0][3], count, &k->gate[3]);
    pb_dsp_lstm_cell_pass(acc, cell, out, &k->cell, count);
}
#endif /* PB_SIMD_DSP */

/* Which finish a call takes: 0 pb_fast_lstm_finish (some requantization not the fast form
 * with a right shift), 1 pb_dsp_lstm_finish_as with the activations by their words (the
 * generator gave them), 2 without. */
static int32_t pb_dsp_lstm_mode(const pb_fast_lstm_params_t *p)
{
    int32_t k, right = p->fast && p->forget_shift < 0 && p->update_shift < 0 && p->hidden_shift < 0;
    for (k = 0; k < 8; ++k) {
        right = right && p->shifts[k] < 0;
    }
    return !right ? 0 : p->sigmoid_words ? 1 : 2;
}

/* Each form a function of its own (PB_NOINLINE): inlined into the step, they would crowd its
 * dot products out of registers. */

static PB_NOINLINE void pb_dsp_lstm_finish_words(const pb_fast_lstm_params_t *p, int32_t count, int32_t (*acc)[8], int16_t *cell,
                                     int8_t *out)
{
#if defined(PB_SIMD_DSP)
    pb_dsp_lstm_k_t k;
    pb_dsp_lstm_k(p, &k);
    pb_dsp_lstm_finish_k(&k, count, acc, cell, out);
#else
    pb_dsp_lstm_finish_as(p, count, acc, cell, out, 1);
#endif
}

static PB_NOINLINE void pb_dsp_lstm_finish_table(const pb_fast_lstm_params_t *p, int32_t count, int32_t (*acc)[8], int16_t *cell,
                                     int8_t *out)
{
    pb_dsp_lstm_finish_as(p, count, acc, cell, out, 0);
}

static PB_ALWAYS_INLINE void pb_dsp_lstm_finish_mode(const pb_fast_lstm_params_t *p, int32_t mode, int32_t count,
                                                     int32_t (*acc)[8], int16_t *cell, int8_t *out)
{
    if (mode == 0) {
        pb_fast_lstm_finish(p, count, acc, cell, out);
    } else if (mode == 1) {
        pb_dsp_lstm_finish_words(p, count, acc, cell, out);
    } else {
        pb_dsp_lstm_finish_table(p, count, acc, cell, out);
    }
}

/* The finish the general step takes (pb_fast_lstm_s8_with): its mode found per chunk. */
static void pb_dsp_lstm_finish(const pb_fast_lstm_params_t *p, int32_t count, int32_t (*acc)[8], int16_t *cell,
                               int8_t *out)
{
    pb_dsp_lstm_finish_mode(p, pb_dsp_lstm_mode(p), count, acc, cell, out);
}

#if defined(PB_SIMD_DSP)
/* A chunk's dot products in one assembly routine: per unit, the four input gates' from their
 * biases over the widened input, then the four recurrent gates' over the widened hidden state,
 * each as a fully unrolled run of PB_DSP_GROUPs (pb_rows4.h) entered at the group that leaves
 * exactly the vector's count to go, so no loop counts groups; the biases and the
 * accumulator rows by LDM/STM through pointers held in registers: 31 instructions a unit
 * fewer than the C loop on trained_lstm_int8 (28 inputs, 20 units). */
typedef struct {
    const uint32_t *xb;  /* the widened input (pb_dsp_widen4) */
    const uint32_t *hb;  /* the widened hidden state */
    int32_t xgroups;     /* the input's groups of 4 values, 1..PB_DSP_LSTM_GROUPS_MAX */
    int32_t hgroups;     /* the hidden state's, alike */
    int32_t count;       /* units, at least 1 */
    const void *wi;      /* the first unit's input rows; on return, past the last unit's */
    const void *wr;      /* recurrent rows, alike */
    const int32_t *bias; /* the first unit's 8 biases, alike */
    int32_t *acc;        /* acc[unit][8]: 4 input gates, 4 recurrent gates */
} pb_dsp_lstm_dots_t;

/* The longest input or hidden state the routine takes, in groups of 4 values. */
#define PB_DSP_LSTM_GROUPS_MAX 16

void pb_dsp_lstm_dots(pb_dsp_lstm_dots_t *f);

/* frame: [0] xb, [4] hb, [8] the input run's entry, [12] the hidden run's, [16] units left,
 * [20] f, [24] wr, [28] wi; r12 the biases, lr the accumulator rows, r11 the rows, r10 the
 * vector */
__asm__(PB_ASM_FUNCTION(pb_dsp_lstm_dots)
        "push    {r4-r11, lr}\n\t"
        "sub     sp, sp, #32\n\t"
        "str     r0, [sp, #20]\n\t"
        "ldm     r0, {r0-r8}\n\t"
        "strd    r0, r1, [sp]\n\t"
        "movs    r9, #44\n\t"
        "adr.w   r10, 3f\n\t"
        "mls     r10, r2, r9, r10\n\t"
        "orr     r10, r10, #1\n\t"
        "adr.w   r0, 5f\n\t"
        "mls     r0, r3, r9, r0\n\t"
        "orr     r0, r0, #1\n\t"
        "strd    r10, r0, [sp, #8]\n\t"
        "str     r4, [sp, #16]\n\t"
        "str     r6, [sp, #24]\n\t"
        "mov     r11, r5\n\t"
        "mov     r12, r7\n\t"
        "mov     lr, r8\n"
        "1:\n\t"
        "ldmia   r12!, {r0-r3}\n\t"
        "ldr     r10, [sp]\n\t"
        "ldr     r4, [sp, #8]\n\t"
        "bx      r4\n\t"
        PB_DSP_GROUPS16
        "3:\n\t"
        "stmia   lr!, {r0-r3}\n\t"
        "ldmia   r12!, {r0-r3}\n\t"
        "str     r11, [sp, #28]\n\t"
        "ldr     r11, [sp, #24]\n\t"
        "ldr     r10, [sp, #4]\n\t"
        "ldr     r4, [sp, #12]\n\t"
        "bx      r4\n\t"
        PB_DSP_GROUPS16
        "5:\n\t"
        "stmia   lr!, {r0-r3}\n\t"
        "str     r11, [sp, #24]\n\t"
        "ldr     r11, [sp, #28]\n\t"
        "ldr     r4, [sp, #16]\n\t"
        "subs    r4, r4, #1\n\t"
        "str     r4, [sp, #16]\n\t"
        "bne     1b\n\t"
        "ldr     r0, [sp, #20]\n\t"
        "ldr     r1, [sp, #24]\n\t"
        "str     r11, [r0, #20]\n\t"
        "str     r1, [r0, #24]\n\t"
        "str     r12, [r0, #28]\n\t"
        "str     lr, [r0, #32]\n\t"
        "add     sp, sp, #32\n\t"
        "pop     {r4-r11, pc}\n\t"
        PB_ASM_END(pb_dsp_lstm_dots));
#endif

/* The step of pb_fast_lstm_s8_with for the wide rows, the input and hidden vectors widened
 * (pb_dsp_widen4) once per step. */
static void pb_dsp_lstm_s8_widened(const pb_fast_lstm_params_t *p, const int8_t *input, const int8_t *hidden,
                                   const int16_t *cell, int8_t *output)
{
    const int32_t n = p->units, depth = p->input_size;
    const int32_t xwords = (depth + 3) >> 2, hwords = (n + 3) >> 2;
    uint32_t xb[PB_DSP_LSTM_WIDEN_MAX / 2], hb[PB_DSP_LSTM_WIDEN_MAX / 2];
    int32_t acc[PB_DSP_LSTM_CHUNK][8];
    const int32_t mode = pb_dsp_lstm_mode(p);
    int32_t b, t, u0, u;
#if defined(PB_SIMD_DSP)
    pb_dsp_lstm_k_t k;  /* mode 1's constants, once for every step */
    if (mode == 1) {
        pb_dsp_lstm_k(p, &k);
    }
#endif
    for (b = 0; b < p->batches; ++b) {
        int8_t *h = (int8_t *)hidden + b * n;
        int16_t *c = (int16_t *)cell + b * n;
        for (t = 0; t < p->steps; ++t) {
            const int32_t row = p->time_major ? t * p->batches + b : b * p->steps + t;
            int8_t *out = output + row * n;
            const void *wi = p->w_input, *wr = p->w_recurrent;
            const int32_t *bias = p->bias;
            pb_dsp_widen4(xb, input + row * depth, depth);
            pb_dsp_widen4(hb, h, n);
            for (u0 = 0; u0 < n; u0 += PB_DSP_LSTM_CHUNK) {
                const int32_t count = n - u0 < PB_DSP_LSTM_CHUNK ? n - u0 : PB_DSP_LSTM_CHUNK;
#if defined(PB_SIMD_DSP)
                if (xwords <= PB_DSP_LSTM_GROUPS_MAX && hwords <= PB_DSP_LSTM_GROUPS_MAX) {
                    pb_dsp_lstm_dots_t f;
                    f.xb = xb, f.hb = hb, f.xgroups = xwords, f.hgroups = hwords, f.count = count;
                    f.wi = wi, f.wr = wr, f.bias = bias, f.acc = &acc[0][0];
                    pb_dsp_lstm_dots(&f);
                    wi = f.wi, wr = f.wr, bias = f.bias;
                } else
#endif
                {
                    for (u = 0; u < count; ++u, bias += 8) {
                        pb_dsp_lstm_dot4(xb, xwords, &wi, bias, acc[u]);
                        pb_dsp_lstm_dot4(hb, hwords, &wr, bias + 4, acc[u] + 4);
                    }
                }
#if defined(PB_SIMD_DSP)
                if (mode == 1) {
                    pb_dsp_lstm_finish_k(&k, count, acc, c + u0, out + u0);
                } else
#endif
                {
                    pb_dsp_lstm_finish_mode(p, mode, count, acc, c + u0, out + u0);
                }
            }
            /* every unit has read the old hidden state (from hb): the new one replaces it */
            memcpy(h, out, (size_t)n);
        }
    }
}

void pb_fast_lstm_s8(const pb_fast_lstm_params_t *p, const int8_t *input, const int8_t *hidden,
                     const int16_t *cell, int8_t *output)
{
    if (p->wide && p->input_size <= PB_DSP_LSTM_WIDEN_MAX && p->units <= PB_DSP_LSTM_WIDEN_MAX) {
        pb_dsp_lstm_s8_widened(p, input, hidden, cell, output);
    } else if (p->wide) {
        pb_fast_lstm_s8_with(p, input, hidden, cell, output, pb_dsp_dot4_wide, pb_dsp_lstm_finish);
    } else {
        pb_fast_lstm_s8_with(p, input, hidden, cell, output, pb_dsp_dot4, pb_dsp_lstm_finish);
    }
}
