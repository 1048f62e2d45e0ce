/* The real FFT for one sample type: pb_signal_fft.c includes this file once per type,
 * after defining
 *   PB_T                 the sample type,
 *   PB_FN(name)          name with the type's suffix,
 *   PB_ADD, PB_SUB, PB_NEG          sums and negation, wrapping as the sample type does,
 *   PB_HALF(a), PB_HALF_ADD(a, b), PB_HALF_SUB(a, b)   a / 2, (a + b) / 2, (a - b) / 2,
 *   PB_MUL(a, b)                    a product rounded back to the sample's scale,
 *   PB_CMUL_RE, PB_CMUL_IM          the parts of a complex product, each rounded once,
 *   PB_FIXDIV(x, k)                 x /= k, for fixed-point stages (nothing for float).
 * Each expression keeps the order of operations of TFLite Micro's transform, so the float
 * form rounds like it too. Arrays hold complex values as (re, im) pairs. */

#define PB_RE(a, k) ((a)[2 * (k)])
#define PB_IM(a, k) ((a)[2 * (k) + 1])

typedef struct {
    PB_T r, i;
} PB_FN(pb_fft_cpx);

static PB_FN(pb_fft_cpx) PB_FN(pb_fft_load)(const PB_T *a, int32_t k)
{
    PB_FN(pb_fft_cpx) c;
    c.r = PB_RE(a, k);
    c.i = PB_IM(a, k);
    return c;
}

static void PB_FN(pb_fft_store)(PB_T *a, int32_t k, PB_FN(pb_fft_cpx) c)
{
    PB_RE(a, k) = c.r;
    PB_IM(a, k) = c.i;
}

static PB_FN(pb_fft_cpx) PB_FN(pb_fft_cmul)(PB_FN(pb_fft_cpx) a, const PB_T *tw, int32_t k)
{
    PB_FN(pb_fft_cpx) c;
    c.r = PB_CMUL_RE(a.r, a.i, PB_RE(tw, k), PB_IM(tw, k));
    c.i = PB_CMUL_IM(a.r, a.i, PB_RE(tw, k), PB_IM(tw, k));
    return c;
}

static PB_FN(pb_fft_cpx) PB_FN(pb_fft_add)(PB_FN(pb_fft_cpx) a, PB_FN(pb_fft_cpx) b)
{
    PB_FN(pb_fft_cpx) c;
    c.r = PB_ADD(a.r, b.r);
    c.i = PB_ADD(a.i, b.i);
    return c;
}

static PB_FN(pb_fft_cpx) PB_FN(pb_fft_sub)(PB_FN(pb_fft_cpx) a, PB_FN(pb_fft_cpx) b)
{
    PB_FN(pb_fft_cpx) c;
    c.r = PB_SUB(a.r, b.r);
    c.i = PB_SUB(a.i, b.i);
    return c;
}

static void PB_FN(pb_fft_div)(PB_T *a, int32_t k, int32_t div)
{
    PB_FIXDIV(PB_RE(a, k), div);
    PB_FIXDIV(PB_IM(a, k), div);
    (void)a;
    (void)k;
    (void)div;
}

static void PB_FN(pb_fft_radix2)(PB_T *out, int32_t fstride, const PB_T *tw, int32_t m)
{
    int32_t k;
    for (k = 0; k < m; ++k) {
        PB_FN(pb_fft_cpx) t;
        PB_FN(pb_fft_div)(out, k, 2);
        PB_FN(pb_fft_div)(out, k + m, 2);
        t = PB_FN(pb_fft_cmul)(PB_FN(pb_fft_load)(out, k + m), tw, k * fstride);
        PB_FN(pb_fft_store)(out, k + m, PB_FN(pb_fft_sub)(PB_FN(pb_fft_load)(out, k), t));
        PB_FN(pb_fft_store)(out, k, PB_FN(pb_fft_add)(PB_FN(pb_fft_load)(out, k), t));
    }
}

static void PB_FN(pb_fft_radix3)(PB_T *out, int32_t fstride, const PB_T *tw, int32_t m)
{
    const PB_T epi3 = PB_IM(tw, fstride * m);
    int32_t k;
    for (k = 0; k < m; ++k) {
        PB_FN(pb_fft_cpx) s0, s1, s2, s3, f0, f1, f2;
        PB_FN(pb_fft_div)(out, k, 3);
        PB_FN(pb_fft_div)(out, k + m, 3);
        PB_FN(pb_fft_div)(out, k + 2 * m, 3);
        s1 = PB_FN(pb_fft_cmul)(PB_FN(pb_fft_load)(out, k + m), tw, k * fstride);
        s2 = PB_FN(pb_fft_cmul)(PB_FN(pb_fft_load)(out, k + 2 * m), tw, 2 * k * fstride);
        s3 = PB_FN(pb_fft_add)(s1, s2);
        s0 = PB_FN(pb_fft_sub)(s1, s2);
        f0 = PB_FN(pb_fft_load)(out, k);
        f1.r = PB_SUB(f0.r, PB_HALF(s3.r));
        f1.i = PB_SUB(f0.i, PB_HALF(s3.i));
        s0.r = PB_MUL(s0.r, epi3);
        s0.i = PB_MUL(s0.i, epi3);
        f0 = PB_FN(pb_fft_add)(f0, s3);
        f2.r = PB_ADD(f1.r, s0.i);
        f2.i = PB_SUB(f1.i, s0.r);
        f1.r = PB_SUB(f1.r, s0.i);
        f1.i = PB_ADD(f1.i, s0.r);
        PB_FN(pb_fft_store)(out, k, f0);
        PB_FN(pb_fft_store)(out, k + m, f1);
        PB_FN(pb_fft_store)(out, k + 2 * m, f2);
    }
}

static void PB_FN(pb_fft_radix4)(PB_T *out, int32_t fstride, const PB_T *tw, int32_t m, int inverse)
{
    int32_t k;
    for (k = 0; k < m; ++k) {
        PB_FN(pb_fft_cpx) s0, s1, s2, s3, s4, s5, f0, f1, f3;
        PB_FN(pb_fft_div)(out, k, 4);
        PB_FN(pb_fft_div)(out, k + m, 4);
        PB_FN(pb_fft_div)(out, k + 2 * m, 4);
        PB_FN(pb_fft_div)(out, k + 3 * m, 4);
        s0 = PB_FN(pb_fft_cmul)(PB_FN(pb_fft_load)(out, k + m), tw, k * fstride);
        s1 = PB_FN(pb_fft_cmul)(PB_FN(pb_fft_load)(out, k + 2 * m), tw, 2 * k * fstride);
        s2 = PB_FN(pb_fft_cmul)(PB_FN(pb_fft_load)(out, k + 3 * m), tw, 3 * k * fstride);
        f0 = PB_FN(pb_fft_load)(out, k);
        s5 = PB_FN(pb_fft_sub)(f0, s1);
        f0 = PB_FN(pb_fft_add)(f0, s1);
        s3 = PB_FN(pb_fft_add)(s0, s2);
        s4 = PB_FN(pb_fft_sub)(s0, s2);
        PB_FN(pb_fft_store)(out, k + 2 * m, PB_FN(pb_fft_sub)(f0, s3));
        f0 = PB_FN(pb_fft_add)(f0, s3);
        if (inverse) {
            f1.r = PB_SUB(s5.r, s4.i);
            f1.i = PB_ADD(s5.i, s4.r);
            f3.r = PB_ADD(s5.r, s4.i);
            f3.i = PB_SUB(s5.i, s4.r);
        } else {
            f1.r = PB_ADD(s5.r, s4.i);
            f1.i = PB_SUB(s5.i, s4.r);
            f3.r = PB_SUB(s5.r, s4.i);
            f3.i = PB_ADD(s5.i, s4.r);
        }
        PB_FN(pb_fft_store)(out, k, f0);
        PB_FN(pb_fft_store)(out, k + m, f1);
        PB_FN(pb_fft_store)(out, k + 3 * m, f3);
    }
}

static void PB_FN(pb_fft_radix5)(PB_T *out, int32_t fstride, const PB_T *tw, int32_t m)
{
    const PB_FN(pb_fft_cpx) ya = PB_FN(pb_fft_load)(tw, fstride * m);
    const PB_FN(pb_fft_cpx) yb = PB_FN(pb_fft_load)(tw, fstride * 2 * m);
    int32_t u;
    for (u = 0; u < m; ++u) {
        PB_FN(pb_fft_cpx) s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, f0;
        int32_t q;
        for (q = 0; q < 5; ++q) {
            PB_FN(pb_fft_div)(out, u + q * m, 5);
        }
        s0 = PB_FN(pb_fft_load)(out, u);
        s1 = PB_FN(pb_fft_cmul)(PB_FN(pb_fft_load)(out, u + m), tw, u * fstride);
        s2 = PB_FN(pb_fft_cmul)(PB_FN(pb_fft_load)(out, u + 2 * m), tw, 2 * u * fstride);
        s3 = PB_FN(pb_fft_cmul)(PB_FN(pb_fft_load)(out, u + 3 * m), tw, 3 * u * fstride);
        s4 = PB_FN(pb_fft_cmul)(PB_FN(pb_fft_load)(out, u + 4 * m), tw, 4 * u * fstride);
        s7 = PB_FN(pb_fft_add)(s1, s4);
        s10 = PB_FN(pb_fft_sub)(s1, s4);
        s8 = PB_FN(pb_fft_add)(s2, s3);
        s9 = PB_FN(pb_fft_sub)(s2, s3);
        f0.r = PB_ADD(s0.r, PB_ADD(s7.r, s8.r));
        f0.i = PB_ADD(s0.i, PB_ADD(s7.i, s8.i));
        PB_FN(pb_fft_store)(out, u, f0);
        s5.r = PB_ADD(PB_ADD(s0.r, PB_MUL(s7.r, ya.r)), PB_MUL(s8.r, yb.r));
        s5.i = PB_ADD(PB_ADD(s0.i, PB_MUL(s7.i, ya.r)), PB_MUL(s8.i, yb.r));
        s6.r = PB_ADD(PB_MUL(s10.i, ya.i), PB_MUL(s9.i, yb.i));
        s6.i = PB_SUB(PB_NEG(PB_MUL(s10.r, ya.i)), PB_MUL(s9.r, yb.i));
        PB_FN(pb_fft_store)(out, u + m, PB_FN(pb_fft_sub)(s5, s6));
        PB_FN(pb_fft_store)(out, u + 4 * m, PB_FN(pb_fft_add)(s5, s6));
        s11.r = PB_ADD(PB_ADD(s0.r, PB_MUL(s7.r, yb.r)), PB_MUL(s8.r, ya.r));
        s11.i = PB_ADD(PB_ADD(s0.i, PB_MUL(s7.i, yb.r)), PB_MUL(s8.i, ya.r));
        s12.r = PB_ADD(PB_NEG(PB_MUL(s10.i, yb.i)), PB_MUL(s9.i, ya.i));
        s12.i = PB_SUB(PB_MUL(s10.r, yb.i), PB_MUL(s9.r, ya.i));
        PB_FN(pb_fft_store)(out, u + 2 * m, PB_FN(pb_fft_add)(s11, s12));
        PB_FN(pb_fft_store)(out, u + 3 * m, PB_FN(pb_fft_sub)(s11, s12));
    }
}

/* One stage: `radix` transforms of length m (of every radix-th input from f, recursively),
 * then the butterflies that combine them. The lowering only admits radices 2 to 5. */
static void PB_FN(pb_fft_stage)(PB_T *out, const PB_T *f, int32_t fstride, const int32_t *factors,
                                const PB_T *tw, int inverse)
{
    const int32_t radix = factors[0];
    const int32_t m = factors[1];
    int32_t j;
    for (j = 0; j < radix; ++j) {
        if (m == 1) {
            PB_FN(pb_fft_store)(out, j, PB_FN(pb_fft_load)(f, j * fstride));
        } else {
            PB_FN(pb_fft_stage)(out + 2 * j * m, f + 2 * j * fstride, fstride * radix, factors + 2, tw, inverse);
        }
    }
    switch (radix) {
    case 2: PB_FN(pb_fft_radix2)(out, fstride, tw, m); break;
    case 3: PB_FN(pb_fft_radix3)(out, fstride, tw, m); break;
    case 4: PB_FN(pb_fft_radix4)(out, fstride, tw, m, inverse); break;
    default: PB_FN(pb_fft_radix5)(out, fstride, tw, m); break;
    }
}

void PB_FN(pb_signal_rfft)(const pb_signal_fft_params_t *p, const PB_T *input, PB_T *output, void *scratch)
{
    const int32_t half = p->fft_length / 2;
    const PB_T *tw = (const PB_T *)p->twiddles;
    const PB_T *super = (const PB_T *)p->super_twiddles;
    PB_T *work = (PB_T *)scratch;
    PB_T *spectrum = work + p->fft_length;
    int32_t row, k;
    for (row = 0; row < p->rows; ++row) {
        const PB_T *in = input + row * p->in_row;
        PB_T *out = output + row * p->out_row;
        PB_FN(pb_fft_cpx) dc;
        for (k = 0; k < p->fft_length; ++k) {
            work[k] = k < p->in_row ? in[k] : (PB_T)0;
        }
        PB_FN(pb_fft_stage)(spectrum, work, 1, p->factors, tw, 0);
        PB_FN(pb_fft_div)(spectrum, 0, 2);
        dc = PB_FN(pb_fft_load)(spectrum, 0);
        PB_RE(out, 0) = PB_ADD(dc.r, dc.i);
        PB_RE(out, half) = PB_SUB(dc.r, dc.i);
        PB_IM(out, 0) = (PB_T)0;
        PB_IM(out, half) = (PB_T)0;
        for (k = 1; k <= half / 2; ++k) {
            PB_FN(pb_fft_cpx) fpk, fpnk, f1k, f2k, t;
            PB_T pair[4];
            pair[0] = PB_RE(spectrum, k);
            pair[1] = PB_IM(spectrum, k);
            pair[2] = PB_RE(spectrum, half - k);
            pair[3] = PB_NEG(PB_IM(spectrum, half - k));
            PB_FN(pb_fft_div)(pair, 0, 2);
            PB_FN(pb_fft_div)(pair, 1, 2);
            fpk = PB_FN(pb_fft_load)(pair, 0);
            fpnk = PB_FN(pb_fft_load)(pair, 1);
            f1k = PB_FN(pb_fft_add)(fpk, fpnk);
            f2k = PB_FN(pb_fft_sub)(fpk, fpnk);
            t = PB_FN(pb_fft_cmul)(f2k, super, k - 1);
            PB_RE(out, k) = PB_HALF_ADD(f1k.r, t.r);
            PB_IM(out, k) = PB_HALF_ADD(f1k.i, t.i);
            PB_RE(out, half - k) = PB_HALF_SUB(f1k.r, t.r);
            PB_IM(out, half - k) = PB_HALF_SUB(t.i, f1k.i);
        }
    }
}

void PB_FN(pb_signal_irfft)(const pb_signal_fft_params_t *p, const PB_T *input, PB_T *output, void *scratch)
{
    const int32_t half = p->fft_length / 2;
    const PB_T *tw = (const PB_T *)p->twiddles;
    const PB_T *super = (const PB_T *)p->super_twiddles;
    PB_T *spectrum = (PB_T *)scratch;
    int32_t row, k;
    for (row = 0; row < p->rows; ++row) {
        const PB_T *in = input + row * p->in_row;
        PB_T *out = output + row * p->out_row;
        PB_RE(spectrum, 0) = PB_ADD(PB_RE(in, 0), PB_RE(in, half));
        PB_IM(spectrum, 0) = PB_SUB(PB_RE(in, 0), PB_RE(in, half));
        PB_FN(pb_fft_div)(spectrum, 0, 2);
        for (k = 1; k <= half / 2; ++k) {
            PB_FN(pb_fft_cpx) fk, fnkc, fek, fok, d;
            PB_T pair[4];
            pair[0] = PB_RE(in, k);
            pair[1] = PB_IM(in, k);
            pair[2] = PB_RE(in, half - k);
            pair[3] = PB_NEG(PB_IM(in, half - k));
            PB_FN(pb_fft_div)(pair, 0, 2);
            PB_FN(pb_fft_div)(pair, 1, 2);
            fk = PB_FN(pb_fft_load)(pair, 0);
            fnkc = PB_FN(pb_fft_load)(pair, 1);
            fek = PB_FN(pb_fft_add)(fk, fnkc);
            d = PB_FN(pb_fft_sub)(fk, fnkc);
            fok = PB_FN(pb_fft_cmul)(d, super, k - 1);
            PB_FN(pb_fft_store)(spectrum, k, PB_FN(pb_fft_add)(fek, fok));
            PB_FN(pb_fft_store)(spectrum, half - k, PB_FN(pb_fft_sub)(fek, fok));
            PB_IM(spectrum, half - k) = PB_FLIP(PB_IM(spectrum, half - k));
        }
        PB_FN(pb_fft_stage)(out, spectrum, 1, p->factors, tw, 1);
        PB_SCALE_OUTPUT(out, p->fft_length);
    }
}

#undef PB_RE
#undef PB_IM
