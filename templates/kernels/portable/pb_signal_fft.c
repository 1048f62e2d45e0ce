/* SignalRfft and SignalIrfft for int16, int32 and float samples: the transform in
 * pb_signal_fft_body.h, expanded once per type with that type's arithmetic, as TFLite
 * Micro builds its fixed-point (Q15, Q31) and float transforms from one source. */
#include "pb_signal_fft.h"

/* ---- int16: Q15 products in int32, rounded to nearest; sums wrap to 16 bits ---------- */
#define PB_T int16_t
#define PB_FN(name) name##_s16
#define PB_ADD(a, b) ((int16_t)((a) + (b)))
#define PB_SUB(a, b) ((int16_t)((a) - (b)))
#define PB_NEG(a) ((int16_t)(-(a)))
#define PB_FLIP(a) PB_NEG(a)
#define PB_HALF(a) ((int16_t)((a) >> 1))
#define PB_HALF_ADD(a, b) ((int16_t)(((a) + (b)) >> 1))
#define PB_HALF_SUB(a, b) ((int16_t)(((a) - (b)) >> 1))
#define PB_ROUND(x) ((int16_t)(((x) + (1 << 14)) >> 15))
#define PB_SMUL(a, b) ((int32_t)(a) * (int32_t)(b))
#define PB_MUL(a, b) PB_ROUND(PB_SMUL(a, b))
#define PB_CMUL_RE(ar, ai, br, bi) PB_ROUND(PB_SMUL(ar, br) - PB_SMUL(ai, bi))
#define PB_CMUL_IM(ar, ai, br, bi) PB_ROUND(PB_SMUL(ar, bi) + PB_SMUL(ai, br))
#define PB_FIXDIV(x, k) ((x) = PB_ROUND(PB_SMUL((x), 32767 / (k))))
#define PB_SCALE_OUTPUT(out, n) ((void)(out), (void)(n))
#include "pb_signal_fft_body.h"
#undef PB_T
#undef PB_FN
#undef PB_ADD
#undef PB_SUB
#undef PB_NEG
#undef PB_FLIP
#undef PB_HALF
#undef PB_HALF_ADD
#undef PB_HALF_SUB
#undef PB_ROUND
#undef PB_SMUL
#undef PB_MUL
#undef PB_CMUL_RE
#undef PB_CMUL_IM
#undef PB_FIXDIV
#undef PB_SCALE_OUTPUT

/* ---- int32: Q31 products in int64, rounded to nearest; sums wrap to 32 bits ---------- */
#define PB_T int32_t
#define PB_FN(name) name##_s32
#define PB_ADD(a, b) ((int32_t)((uint32_t)(a) + (uint32_t)(b)))
#define PB_SUB(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)))
#define PB_NEG(a) ((int32_t)(0u - (uint32_t)(a)))
#define PB_FLIP(a) PB_NEG(a)
#define PB_HALF(a) ((a) >> 1)
#define PB_HALF_ADD(a, b) (PB_ADD(a, b) >> 1)
#define PB_HALF_SUB(a, b) (PB_SUB(a, b) >> 1)
#define PB_ROUND(x) ((int32_t)(((x) + ((int64_t)1 << 30)) >> 31))
#define PB_SMUL(a, b) ((int64_t)(a) * (int64_t)(b))
#define PB_MUL(a, b) PB_ROUND(PB_SMUL(a, b))
#define PB_CMUL_RE(ar, ai, br, bi) PB_ROUND(PB_SMUL(ar, br) - PB_SMUL(ai, bi))
#define PB_CMUL_IM(ar, ai, br, bi) PB_ROUND(PB_SMUL(ar, bi) + PB_SMUL(ai, br))
#define PB_FIXDIV(x, k) ((x) = PB_ROUND(PB_SMUL((x), 2147483647 / (k))))
#define PB_SCALE_OUTPUT(out, n) ((void)(out), (void)(n))
#include "pb_signal_fft_body.h"
#undef PB_T
#undef PB_FN
#undef PB_ADD
#undef PB_SUB
#undef PB_NEG
#undef PB_FLIP
#undef PB_HALF
#undef PB_HALF_ADD
#undef PB_HALF_SUB
#undef PB_ROUND
#undef PB_SMUL
#undef PB_MUL
#undef PB_CMUL_RE
#undef PB_CMUL_IM
#undef PB_FIXDIV
#undef PB_SCALE_OUTPUT

/* ---- float: no stage scaling; the inverse divides its output by the length ----------- */
static void pb_signal_fft_scale_f32(float *out, int32_t n)
{
    int32_t k;
    for (k = 0; k < n; ++k) {
        out[k] /= (float)n;
    }
}

#define PB_T float
#define PB_FN(name) name##_f32
#define PB_ADD(a, b) ((a) + (b))
#define PB_SUB(a, b) ((a) - (b))
#define PB_NEG(a) (-(a))
#define PB_FLIP(a) ((a) * -1.0f)
#define PB_HALF(a) ((a) * 0.5f)
#define PB_HALF_ADD(a, b) (((a) + (b)) * 0.5f)
#define PB_HALF_SUB(a, b) (((a) - (b)) * 0.5f)
#define PB_MUL(a, b) ((a) * (b))
#define PB_CMUL_RE(ar, ai, br, bi) ((ar) * (br) - (ai) * (bi))
#define PB_CMUL_IM(ar, ai, br, bi) ((ar) * (bi) + (ai) * (br))
#define PB_FIXDIV(x, k) ((void)0)
#define PB_SCALE_OUTPUT(out, n) pb_signal_fft_scale_f32((out), (n))
#include "pb_signal_fft_body.h"
