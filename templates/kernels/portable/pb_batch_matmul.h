/* BATCH_MATMUL: int8 and int16, transposed operands, broadcast batch dimensions, either
 * operand constant. */
#ifndef PB_BATCH_MATMUL_H
#define PB_BATCH_MATMUL_H

#include "pb_common.h"

#define PB_BMM_BATCH_DIMS 3

typedef struct {
    int32_t batch[PB_BMM_BATCH_DIMS];    /* output batch extents, outermost first */
    int32_t lhs_step[PB_BMM_BATCH_DIMS]; /* lhs element step per batch index (0 = broadcast) */
    int32_t rhs_step[PB_BMM_BATCH_DIMS];
    int32_t rows, cols, depth;           /* each output matrix is rows x cols */
    int32_t lhs_row_step, lhs_depth_step; /* element steps inside one lhs matrix */
    int32_t rhs_depth_step, rhs_col_step; /* and inside one rhs matrix */
    int32_t lhs_offset, rhs_offset;      /* minus the zero points */
    int32_t output_offset;
    int32_t mult, shift;                 /* per-tensor requantization */
    int32_t act_min, act_max;
    const void *lhs_data;                /* a constant operand (the call then takes the other), else NULL */
    const void *rhs_data;
} pb_batch_matmul_params_t;

void pb_batch_matmul_s8(const pb_batch_matmul_params_t *p, const int8_t *lhs, const int8_t *rhs, int8_t *output);
void pb_batch_matmul_s8_const_rhs(const pb_batch_matmul_params_t *p, const int8_t *lhs, int8_t *output);
void pb_batch_matmul_s8_const_lhs(const pb_batch_matmul_params_t *p, const int8_t *rhs, int8_t *output);
/* int16: 64-bit accumulator and requantization, zero points 0 */
void pb_batch_matmul_s16(const pb_batch_matmul_params_t *p, const int16_t *lhs, const int16_t *rhs,
                         int16_t *output);
void pb_batch_matmul_s16_const_rhs(const pb_batch_matmul_params_t *p, const int16_t *lhs, int16_t *output);
void pb_batch_matmul_s16_const_lhs(const pb_batch_matmul_params_t *p, const int16_t *rhs, int16_t *output);

#endif /* PB_BATCH_MATMUL_H */
