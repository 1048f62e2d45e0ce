/* Fast int8 BATCH_MATMUL, Helium (MVE) tier. Per output batch and per block of col_block
 * columns: the right operand's columns gathered into scratch as raw int8 rows of depth_pad
 * bytes (zeros beyond the depth) with their sums; then per pair of left-operand rows the
 * same for the two rows, and VMLADAVA, two rows by four columns per step. The zero points
 * enter through the sums:
 *   sum (l + lo)(r + ro) = sum l r + ro sum l + (lo sum r + depth lo ro),
 * the row's term and the column's, added in wrapping int32 arithmetic (exact: the total
 * fits, as the generator checked). Requantization four lanes at once (pb_helium.h).
 *
 * Scratch: col_block columns of depth_pad bytes, their col_block int32 terms, then the two
 * rows of depth_pad bytes. */
#include "pb_batch_matmul.h"
#include "pb_helium.h"

/* n bytes src[0], src[step], ... into dst, zeros up to n_pad (a multiple of 16); returns
 * their sum. */
static int32_t pb_mve_bmm_gather(const int8_t *src, int32_t step, int32_t n, int32_t n_pad, int8_t *dst)
{
    int32_t k, sum = 0;
    if (step == 1) {
        pb_mve_copy(dst, src, n);
    } else {
        for (k = 0; k < n; ++k) {
            dst[k] = src[k * step];
        }
    }
    pb_mve_fill(dst + n, vdupq_n_s8(0), n_pad - n);
    for (k = 0; k < n_pad; k += 16) {
        sum = vaddvaq_s8(sum, vldrbq_s8(dst + k));
    }
    return sum;
}

/* Two rows by four columns (c points at the first column's bytes; the others follow,
 * depth_pad apart) over depth_pad / 16 chunks. Scalar accumulators in a function of its
 * own: GCC keeps them in registers. */
static __attribute__((noinline)) void pb_mve_bmm_dot(const int8_t *x0, const int8_t *x1, const int8_t *c,
                                                     int32_t depth_pad, int32_t *a, int32_t *b)
{
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0, k;
    for (k = 0; k < depth_pad; k += 16) {
        const int8x16_t ra = vldrbq_s8(x0 + k), rb = vldrbq_s8(x1 + k);
        int8x16_t v = vldrbq_s8(c + k);
        a0 = vmladavaq_s8(a0, ra, v);
        b0 = vmladavaq_s8(b0, rb, v);
        v = vldrbq_s8(c + depth_pad + k);
        a1 = vmladavaq_s8(a1, ra, v);
        b1 = vmladavaq_s8(b1, rb, v);
        v = vldrbq_s8(c + 2 * depth_pad + k);
        a2 = vmladavaq_s8(a2, ra, v);
        b2 = vmladavaq_s8(b2, rb, v);
        v = vldrbq_s8(c + 3 * depth_pad + k);
        a3 = vmladavaq_s8(a3, ra, v);
        b3 = vmladavaq_s8(b3, rb, v);
    }
    a[0] = a0, a[1] = a1, a[2] = a2, a[3] = a3;
    b[0] = b0, b[1] = b1, b[2] = b2, b[3] = b3;
}

static PB_MVE_INLINE void pb_mve_bmm_run(const pb_fast_mve_bmm_params_t *p, const int8_t *lhs, const int8_t *rhs,
                                         int8_t *output, void *scratch, int general)
{
    const pb_mve_out_t o = pb_mve_out(p->output_offset, p->act_min, p->act_max);
    const int32_t dp = p->depth_pad;
    int8_t *cols = (int8_t *)scratch;
    int32_t *terms = (int32_t *)(cols + p->col_block * dp);
    int8_t *row0 = (int8_t *)(terms + p->col_block), *row1 = row0 + dp;
    /* depth lo ro, and the column's lo sum r, in wrapping arithmetic */
    const uint32_t both = (uint32_t)p->depth * (uint32_t)p->lhs_offset * (uint32_t)p->rhs_offset;
    int32_t b0, b1, b2, i, j, j0;
    for (b0 = 0; b0 < p->batch[0]; ++b0) {
        for (b1 = 0; b1 < p->batch[1]; ++b1) {
            for (b2 = 0; b2 < p->batch[2]; ++b2) {
                const int8_t *l = lhs + b0 * p->lhs_step[0] + b1 * p->lhs_step[1] + b2 * p->lhs_step[2];
                const int8_t *r = rhs + b0 * p->rhs_step[0] + b1 * p->rhs_step[1] + b2 * p->rhs_step[2];
                for (j0 = 0; j0 < p->cols; j0 += p->col_block) {
                    const int32_t nc = PB_MIN(p->col_block, p->cols - j0);
                    for (j = 0; j < nc; ++j) {
                        const int32_t sum = pb_mve_bmm_gather(r + (j0 + j) * p->rhs_col_step, p->rhs_depth_step,
                                                              p->depth, dp, cols + j * dp);
                        terms[j] = (int32_t)((uint32_t)p->lhs_offset * (uint32_t)sum + both);
                    }
                    for (; j < ((nc + 3) & ~3); ++j) { /* a last block's unused columns: computed, not stored */
                        pb_mve_fill(cols + j * dp, vdupq_n_s8(0), dp);
                        terms[j] = 0;
                    }
                    for (i = 0; i < p->rows; i += 2) {
                        const int two = i + 1 < p->rows;
                        int8_t *out0 = output + i * p->cols + j0, *out1 = out0 + p->cols;
                        const int32_t s0 = pb_mve_bmm_gather(l + i * p->lhs_row_step, p->lhs_depth_step, p->depth,
                                                             dp, row0);
                        const int32_t s1 = two ? pb_mve_bmm_gather(l + (i + 1) * p->lhs_row_step, p->lhs_depth_step,
                                                                   p->depth, dp, row1) : s0;
                        const int32x4_t t0 = vdupq_n_s32((int32_t)((uint32_t)p->rhs_offset * (uint32_t)s0));
                        const int32x4_t t1 = vdupq_n_s32((int32_t)((uint32_t)p->rhs_offset * (uint32_t)s1));
                        for (j = 0; j < nc; j += 4) {
                            const mve_pred16_t lanes = vctp32q((uint32_t)(nc - j));
                            const int32x4_t ct = vldrwq_s32(terms + j);
                            int32_t a[4], b[4];
                            int32x4_t v;
                            pb_mve_bmm_dot(row0, two ? row1 : row0, cols + j * dp, dp, a, b);
                            v = vaddq_s32(vaddq_s32(vldrwq_s32(a), ct), t0);
                            vstrbq_p_s32(out0 + j, pb_mve_requant(v, p->quant, general, o), lanes);
                            if (two) {
                                v = vaddq_s32(vaddq_s32(vldrwq_s32(b), ct), t1);
                                vstrbq_p_s32(out1 + j, pb_mve_requant(v, p->quant, general, o), lanes);
                            }
                        }
                    }
                }
                output += p->rows * p->cols;
            }
        }
    }
}

void pb_fast_mve_bmm_s8(const pb_fast_mve_bmm_params_t *p, const int8_t *lhs, const int8_t *rhs, int8_t *output,
                        void *scratch)
{
    if (p->requant == PB_MVE_REQUANT_FAST) {
        pb_mve_bmm_run(p, lhs, rhs, output, scratch, 0);
    } else {
        pb_mve_bmm_run(p, lhs, rhs, output, scratch, 1);
    }
}

void pb_fast_mve_bmm_s8_const_rhs(const pb_fast_mve_bmm_params_t *p, const int8_t *lhs, int8_t *output,
                                  void *scratch)
{
    pb_fast_mve_bmm_s8(p, lhs, (const int8_t *)p->rhs_data, output, scratch);
}

void pb_fast_mve_bmm_s8_const_lhs(const pb_fast_mve_bmm_params_t *p, const int8_t *rhs, int8_t *output,
                                  void *scratch)
{
    pb_fast_mve_bmm_s8(p, (const int8_t *)p->lhs_data, rhs, output, scratch);
}
