/* Fast int8 BATCH_MATMUL, DSP tier. Per output batch and per block of col_block columns:
 * the right operand's columns gathered into scratch, each one depth_pad values with the
 * offset added, as int16 pairs; then per pair of left-operand rows the same for the two
 * rows, and SMLAD over the pairs, two rows by two columns per step; the requantization
 * from the registers (pb_requant.h).
 *
 * Scratch: col_block gathered columns, then the two rows, depth_pad / 2 words each. */
#include "pb_batch_matmul.h"

#if defined(PB_TIER_MVE)
#error "this is the DSP tier's batch matmul; a model generated for the MVE tier uses the Helium one"
#endif

/* n values src[0], src[step], ... plus offset as int16 pairs, zero up to n_pad (even). */
static void pb_bmm_gather(const int8_t *src, int32_t step, int32_t n, int32_t offset, int32_t n_pad, uint32_t *dst)
{
    int32_t k;
    for (k = 0; k + 1 < n; k += 2, src += 2 * step) {
        *dst++ = ((uint32_t)(src[0] + offset) & 0xFFFFu) | ((uint32_t)(src[step] + offset) << 16);
    }
    if (k < n) {
        *dst++ = (uint32_t)(src[0] + offset) & 0xFFFFu;
        k += 2;
    }
    for (; k < n_pad; k += 2) {
        *dst++ = 0;
    }
}

/* Two rows by two columns over `words` int16 pairs. acc: (r0,c0), (r0,c1), (r1,c0), (r1,c1). */
static PB_ALWAYS_INLINE void pb_bmm_dot(const uint32_t *l0, const uint32_t *l1, const uint32_t *r0,
                                        const uint32_t *r1, int32_t words, int32_t *acc)
{
    int32_t c00 = 0, c01 = 0, c10 = 0, c11 = 0, k;
    for (k = 0; k < words; ++k) {
        const uint32_t a = l0[k], b = l1[k], x = r0[k], y = r1[k];
        c00 = pb_smlad(a, x, c00);
        c01 = pb_smlad(a, y, c01);
        c10 = pb_smlad(b, x, c10);
        c11 = pb_smlad(b, y, c11);
    }
    acc[0] = c00;
    acc[1] = c01;
    acc[2] = c10;
    acc[3] = c11;
}

static PB_ALWAYS_INLINE void pb_bmm_run(const pb_fast_bmm_params_t *p, const int8_t *lhs, const int8_t *rhs,
                                        int8_t *output, void *scratch, int mode)
{
    const int32_t words = p->depth_pad / 2;
    uint32_t *cols = (uint32_t *)scratch;
    uint32_t *row0 = cols + p->col_block * words, *row1 = row0 + words;
    const pb_fast_q_t q = pb_fast_q(p->quant);
    pb_fast_out_t o;
    int32_t b0, b1, b2, i, j, j0;
    o.output_offset = p->output_offset;
    o.act_min = p->act_min;
    o.act_max = p->act_max;
    for (b0 = 0; b0 < p->batch[0]; ++b0) {
        for (b1 = 0; b1 < p->batch[1]; ++b1) {
            for (b2 = 0; b2 < p->batch[2]; ++b2) {
                const int8_t *l = lhs + b0 * p->lhs_step[0] + b1 * p->lhs_step[1] + b2 * p->lhs_step[2];
                const int8_t *r = rhs + b0 * p->rhs_step[0] + b1 * p->rhs_step[1] + b2 * p->rhs_step[2];
                for (j0 = 0; j0 < p->cols; j0 += p->col_block) {
                    const int32_t nc = PB_MIN(p->col_block, p->cols - j0);
                    for (j = 0; j < nc; ++j) {
                        pb_bmm_gather(r + (j0 + j) * p->rhs_col_step, p->rhs_depth_step, p->depth, p->rhs_offset,
                                      p->depth_pad, cols + j * words);
                    }
                    if (nc & 1) { /* the odd column's partner: computed, never stored */
                        pb_bmm_gather(r, 0, 0, 0, p->depth_pad, cols + nc * words);
                    }
                    for (i = 0; i < p->rows; i += 2) {
                        const int two = i + 1 < p->rows;
                        int8_t *out0 = output + i * p->cols + j0, *out1 = out0 + p->cols;
                        pb_bmm_gather(l + i * p->lhs_row_step, p->lhs_depth_step, p->depth, p->lhs_offset,
                                      p->depth_pad, row0);
                        if (two) {
                            pb_bmm_gather(l + (i + 1) * p->lhs_row_step, p->lhs_depth_step, p->depth, p->lhs_offset,
                                          p->depth_pad, row1);
                        }
                        for (j = 0; j < nc; j += 2) {
                            int32_t acc[4];
                            pb_bmm_dot(row0, two ? row1 : row0, cols + j * words, cols + (j + 1) * words, words,
                                       acc);
                            out0[j] = pb_fast_out(acc[0], q, o, mode, 0, 1);
                            if (j + 1 < nc) {
                                out0[j + 1] = pb_fast_out(acc[1], q, o, mode, 0, 1);
                            }
                            if (two) {
                                out1[j] = pb_fast_out(acc[2], q, o, mode, 0, 1);
                                if (j + 1 < nc) {
                                    out1[j + 1] = pb_fast_out(acc[3], q, o, mode, 0, 1);
                                }
                            }
                        }
                    }
                }
                output += p->rows * p->cols;
            }
        }
    }
}

static void pb_bmm_exact(const pb_fast_bmm_params_t *p, const int8_t *lhs, const int8_t *rhs, int8_t *output,
                         void *scratch)
{
    pb_bmm_run(p, lhs, rhs, output, scratch, PB_REQUANT_EXACT);
}

static void pb_bmm_fast(const pb_fast_bmm_params_t *p, const int8_t *lhs, const int8_t *rhs, int8_t *output,
                        void *scratch)
{
    pb_bmm_run(p, lhs, rhs, output, scratch, PB_REQUANT_FAST);
}

void pb_fast_bmm_s8(const pb_fast_bmm_params_t *p, const int8_t *lhs, const int8_t *rhs, int8_t *output,
                    void *scratch)
{
    if (p->requant == PB_REQUANT_FAST) {
        pb_bmm_fast(p, lhs, rhs, output, scratch);
    } else {
        pb_bmm_exact(p, lhs, rhs, output, scratch);
    }
}

void pb_fast_bmm_s8_const_rhs(const pb_fast_bmm_params_t *p, const int8_t *lhs, int8_t *output, void *scratch)
{
    pb_fast_bmm_s8(p, lhs, (const int8_t *)p->rhs_data, output, scratch);
}

void pb_fast_bmm_s8_const_lhs(const pb_fast_bmm_params_t *p, const int8_t *rhs, int8_t *output, void *scratch)
{
    pb_fast_bmm_s8(p, (const int8_t *)p->lhs_data, rhs, output, scratch);
}
