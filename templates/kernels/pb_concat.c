/* CONCATENATION: block copies, no arithmetic (TFLite Micro does not requantize). */
#include <string.h>

#include "pb_concat.h"

static void pb_concat_run(const pb_concat_params_t *p, const void *const *runtime, void *output)
{
    const uint8_t *src[PB_CONCAT_MAX_INPUTS];
    uint8_t *out = (uint8_t *)output;
    int32_t i, o, next = 0;

    for (i = 0; i < p->num_inputs; ++i) {
        if (p->const_offset[i] < 0) {
            src[i] = (const uint8_t *)runtime[next++];
        } else {
            src[i] = (const uint8_t *)p->const_data + p->const_offset[i];
        }
    }
    for (o = 0; o < p->outer; ++o) {
        for (i = 0; i < p->num_inputs; ++i) {
            const size_t n = (size_t)p->copy_bytes[i];
            memcpy(out, src[i], n);
            src[i] += n;
            out += n;
        }
    }
}

void pb_concat_1(const pb_concat_params_t *p, const void *in0, void *output)
{
    const void *r[1];
    r[0] = in0;
    pb_concat_run(p, r, output);
}

void pb_concat_2(const pb_concat_params_t *p, const void *in0, const void *in1, void *output)
{
    const void *r[2];
    r[0] = in0;
    r[1] = in1;
    pb_concat_run(p, r, output);
}

void pb_concat_3(const pb_concat_params_t *p, const void *in0, const void *in1, const void *in2,
                 void *output)
{
    const void *r[3];
    r[0] = in0;
    r[1] = in1;
    r[2] = in2;
    pb_concat_run(p, r, output);
}

void pb_concat_4(const pb_concat_params_t *p, const void *in0, const void *in1, const void *in2,
                 const void *in3, void *output)
{
    const void *r[4];
    r[0] = in0;
    r[1] = in1;
    r[2] = in2;
    r[3] = in3;
    pb_concat_run(p, r, output);
}

void pb_concat_5(const pb_concat_params_t *p, const void *in0, const void *in1, const void *in2,
                 const void *in3, const void *in4, void *output)
{
    const void *r[5];
    r[0] = in0;
    r[1] = in1;
    r[2] = in2;
    r[3] = in3;
    r[4] = in4;
    pb_concat_run(p, r, output);
}

void pb_concat_6(const pb_concat_params_t *p, const void *in0, const void *in1, const void *in2,
                 const void *in3, const void *in4, const void *in5, void *output)
{
    const void *r[6];
    r[0] = in0;
    r[1] = in1;
    r[2] = in2;
    r[3] = in3;
    r[4] = in4;
    r[5] = in5;
    pb_concat_run(p, r, output);
}

void pb_concat_7(const pb_concat_params_t *p, const void *in0, const void *in1, const void *in2,
                 const void *in3, const void *in4, const void *in5, const void *in6, void *output)
{
    const void *r[7];
    r[0] = in0;
    r[1] = in1;
    r[2] = in2;
    r[3] = in3;
    r[4] = in4;
    r[5] = in5;
    r[6] = in6;
    pb_concat_run(p, r, output);
}

void pb_concat_8(const pb_concat_params_t *p, const void *in0, const void *in1, const void *in2,
                 const void *in3, const void *in4, const void *in5, const void *in6,
                 const void *in7, void *output)
{
    const void *r[8];
    r[0] = in0;
    r[1] = in1;
    r[2] = in2;
    r[3] = in3;
    r[4] = in4;
    r[5] = in5;
    r[6] = in6;
    r[7] = in7;
    pb_concat_run(p, r, output);
}

void pb_concat_9(const pb_concat_params_t *p, const void *in0, const void *in1, const void *in2,
                 const void *in3, const void *in4, const void *in5, const void *in6,
                 const void *in7, const void *in8, void *output)
{
    const void *r[9];
    r[0] = in0;
    r[1] = in1;
    r[2] = in2;
    r[3] = in3;
    r[4] = in4;
    r[5] = in5;
    r[6] = in6;
    r[7] = in7;
    r[8] = in8;
    pb_concat_run(p, r, output);
}

void pb_concat_10(const pb_concat_params_t *p, const void *in0, const void *in1, const void *in2,
                  const void *in3, const void *in4, const void *in5, const void *in6,
                  const void *in7, const void *in8, const void *in9, void *output)
{
    const void *r[10];
    r[0] = in0;
    r[1] = in1;
    r[2] = in2;
    r[3] = in3;
    r[4] = in4;
    r[5] = in5;
    r[6] = in6;
    r[7] = in7;
    r[8] = in8;
    r[9] = in9;
    pb_concat_run(p, r, output);
}
