/* BATCH_MATMUL, int8 and int16: one rows x cols matrix per output batch, each output the
 * requantized sum over the depth of (lhs + lhs_offset) * (rhs + rhs_offset). */
#include "pb_batch_matmul.h"

void pb_batch_matmul_s8(const pb_batch_matmul_params_t *p, const int8_t *lhs, const int8_t *rhs, int8_t *output)
{
    int32_t b0, b1, b2, i, j, k;
    for (b0 = 0; b0 < p->batch[0]; ++b0) {
        for (b1 = 0; b1 < p->batch[1]; ++b1) {
            for (b2 = 0; b2 < p->batch[2]; ++b2) {
                const int8_t *l = lhs + b0 * p->lhs_step[0] + b1 * p->lhs_step[1] + b2 * p->lhs_step[2];
                const int8_t *r = rhs + b0 * p->rhs_step[0] + b1 * p->rhs_step[1] + b2 * p->rhs_step[2];
                for (i = 0; i < p->rows; ++i) {
                    const int8_t *li = l + i * p->lhs_row_step;
                    for (j = 0; j < p->cols; ++j) {
                        const int8_t *rj = r + j * p->rhs_col_step;
                        int32_t acc = 0;
                        for (k = 0; k < p->depth; ++k) {
                            acc += ((int32_t)li[k * p->lhs_depth_step] + p->lhs_offset) *
                                   ((int32_t)rj[k * p->rhs_depth_step] + p->rhs_offset);
                        }
                        acc = pb_mul_by_quantized_mult(acc, p->mult, p->shift) + p->output_offset;
                        *output++ = (int8_t)PB_CLAMP(acc, p->act_min, p->act_max);
                    }
                }
            }
        }
    }
}

void pb_batch_matmul_s8_const_rhs(const pb_batch_matmul_params_t *p, const int8_t *lhs, int8_t *output)
{
    pb_batch_matmul_s8(p, lhs, (const int8_t *)p->rhs_data, output);
}

void pb_batch_matmul_s8_const_lhs(const pb_batch_matmul_params_t *p, const int8_t *rhs, int8_t *output)
{
    pb_batch_matmul_s8(p, (const int8_t *)p->lhs_data, rhs, output);
}

void pb_batch_matmul_s16(const pb_batch_matmul_params_t *p, const int16_t *lhs, const int16_t *rhs,
                         int16_t *output)
{
    int32_t b0, b1, b2, i, j, k;
    for (b0 = 0; b0 < p->batch[0]; ++b0) {
        for (b1 = 0; b1 < p->batch[1]; ++b1) {
            for (b2 = 0; b2 < p->batch[2]; ++b2) {
                const int16_t *l = lhs + b0 * p->lhs_step[0] + b1 * p->lhs_step[1] + b2 * p->lhs_step[2];
                const int16_t *r = rhs + b0 * p->rhs_step[0] + b1 * p->rhs_step[1] + b2 * p->rhs_step[2];
                for (i = 0; i < p->rows; ++i) {
                    const int16_t *li = l + i * p->lhs_row_step;
                    for (j = 0; j < p->cols; ++j) {
                        const int16_t *rj = r + j * p->rhs_col_step;
                        int64_t acc = 0;
                        int32_t v;
                        for (k = 0; k < p->depth; ++k) {
                            acc += (int64_t)((int32_t)li[k * p->lhs_depth_step] * (int32_t)rj[k * p->rhs_depth_step]);
                        }
                        v = pb_mul_by_quantized_mult64(acc, p->mult, p->shift) + p->output_offset;
                        *output++ = (int16_t)PB_CLAMP(v, p->act_min, p->act_max);
                    }
                }
            }
        }
    }
}

void pb_batch_matmul_s16_const_rhs(const pb_batch_matmul_params_t *p, const int16_t *lhs, int16_t *output)
{
    pb_batch_matmul_s16(p, lhs, (const int16_t *)p->rhs_data, output);
}

void pb_batch_matmul_s16_const_lhs(const pb_batch_matmul_params_t *p, const int16_t *rhs, int16_t *output)
{
    pb_batch_matmul_s16(p, (const int16_t *)p->lhs_data, rhs, output);
}
