/* The frontend's compiled kernel: pre-emphasis, framing, window, real FFT, power, mel filterbank,
 * log and (for MFCC) DCT + lifter + log energy, for one stream.
 *
 * kws/features/frontend.py computes every matrix (window, filterbank, DCT) with numpy and hands
 * them over, so the kernel owns no signal-processing design of its own: it is the per-frame
 * arithmetic of the numpy path without numpy's per-call overhead (which is what a 10 ms push
 * costs there). Batch features are this same kernel fed the whole signal, so training and the
 * runtime compute frames with one piece of code. All arithmetic is double; build with
 * -ffp-contract=off so that x86 and ARM round the same way.
 *
 * Only power-of-two FFT sizes (every preset uses 512); frontend.py uses numpy for the rest.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 4096 /* input samples appended per step: bounds memory for whole-file pushes */

typedef struct {
    PyObject_HEAD
    Py_ssize_t length, step, nfft, half, nbins, nfilt, numcep, nfeat;
    int with_energy;
    double preemph, floor, last;
    double *window;          /* length, or NULL for rectangular */
    double *twr, *twi;       /* complex FFT twiddles e^{-2 pi i k / half}, k < half / 2 */
    double *pwr, *pwi;       /* real-FFT post-processing twiddles e^{-2 pi i k / nfft}, k <= half */
    Py_ssize_t *bitrev;      /* half */
    Py_ssize_t *flo, *fhi;   /* nonzero bin range [flo, fhi) of each filter */
    double *fweights;        /* concatenated nonzero weights */
    Py_ssize_t *foff;        /* offset of each filter's weights in fweights */
    double *dct;             /* nfilt x numcep (lifter folded in), or NULL */
    double *buf;             /* pre-emphasized samples not yet consumed by a frame */
    Py_ssize_t cap, start, fill;
    double *re, *im, *power, *energies;
} Kernel;

static void kernel_free_arrays(Kernel *k) {
    void *arrays[] = {k->window, k->twr, k->twi, k->pwr, k->pwi, k->bitrev, k->flo, k->fhi,
                      k->fweights, k->foff, k->dct, k->buf, k->re, k->im, k->power, k->energies};
    for (size_t i = 0; i < sizeof(arrays) / sizeof(arrays[0]); i++) free(arrays[i]);
}

static void kernel_dealloc(Kernel *k) {
    kernel_free_arrays(k);
    Py_TYPE(k)->tp_free((PyObject *)k);
}

/* Copy a C-contiguous float64 buffer of exactly `count` items into a new malloc'ed array. */
static double *copy_doubles(PyObject *obj, Py_ssize_t count, const char *what) {
    Py_buffer view;
    if (PyObject_GetBuffer(obj, &view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return NULL;
    double *out = NULL;
    if (view.format == NULL || strcmp(view.format, "d") != 0 || view.len != count * 8) {
        PyErr_Format(PyExc_ValueError, "%s must be %zd contiguous float64 values", what, count);
    } else if ((out = malloc(count * sizeof(double))) == NULL) {
        PyErr_NoMemory();
    } else {
        memcpy(out, view.buf, count * sizeof(double));
    }
    PyBuffer_Release(&view);
    return out;
}

static int kernel_init(Kernel *k, PyObject *args, PyObject *kwds) {
    static char *names[] = {"length", "step", "nfft", "preemph", "floor", "window", "filters",
                            "dct", "with_energy", NULL};
    Py_ssize_t length, step, nfft;
    double preemph, floor_;
    PyObject *window, *filters, *dct;
    int with_energy;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "nnnddOOOp", names, &length, &step, &nfft,
                                     &preemph, &floor_, &window, &filters, &dct, &with_energy))
        return -1;
    if (nfft < 4 || (nfft & (nfft - 1)) != 0 || length < 1 || length > nfft || step < 1) {
        PyErr_SetString(PyExc_ValueError, "need a power-of-two nfft >= 4 and 1 <= length <= nfft");
        return -1;
    }
    kernel_free_arrays(k);
    memset((char *)k + sizeof(PyObject), 0, sizeof(Kernel) - sizeof(PyObject));
    k->length = length;
    k->step = step;
    k->nfft = nfft;
    k->half = nfft / 2;
    k->nbins = nfft / 2 + 1;
    k->preemph = preemph;
    k->floor = floor_;
    k->with_energy = with_energy;

    if (window != Py_None && !(k->window = copy_doubles(window, length, "window"))) return -1;

    Py_buffer fb;
    if (PyObject_GetBuffer(filters, &fb, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return -1;
    if (fb.format == NULL || strcmp(fb.format, "d") != 0 || fb.len % (k->nbins * 8) != 0 ||
        fb.len == 0) {
        PyBuffer_Release(&fb);
        PyErr_Format(PyExc_ValueError, "filters must be (nfilt, %zd) contiguous float64",
                     k->nbins);
        return -1;
    }
    k->nfilt = fb.len / (k->nbins * 8);
    const double *dense = fb.buf;
    k->flo = malloc(k->nfilt * sizeof(Py_ssize_t));
    k->fhi = malloc(k->nfilt * sizeof(Py_ssize_t));
    k->foff = malloc(k->nfilt * sizeof(Py_ssize_t));
    k->fweights = malloc(k->nfilt * k->nbins * sizeof(double));
    if (!k->flo || !k->fhi || !k->foff || !k->fweights) {
        PyBuffer_Release(&fb);
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t used = 0;
    for (Py_ssize_t j = 0; j < k->nfilt; j++) {
        const double *row = dense + j * k->nbins;
        Py_ssize_t lo = 0, hi = k->nbins;
        while (lo < hi && row[lo] == 0.0) lo++;
        while (hi > lo && row[hi - 1] == 0.0) hi--;
        k->flo[j] = lo;
        k->fhi[j] = hi;
        k->foff[j] = used;
        for (Py_ssize_t b = lo; b < hi; b++) k->fweights[used++] = row[b];
    }
    PyBuffer_Release(&fb);

    if (dct != Py_None) {
        Py_buffer d;
        if (PyObject_GetBuffer(dct, &d, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return -1;
        int ok = d.format && strcmp(d.format, "d") == 0 && d.len > 0 &&
                 d.len % (k->nfilt * 8) == 0;
        k->numcep = ok ? d.len / (k->nfilt * 8) : 0;
        PyBuffer_Release(&d);
        if (!ok) {
            PyErr_Format(PyExc_ValueError, "dct must be (%zd, numcep) contiguous float64",
                         k->nfilt);
            return -1;
        }
        if (!(k->dct = copy_doubles(dct, k->nfilt * k->numcep, "dct"))) return -1;
    }
    k->nfeat = k->numcep ? k->numcep : k->nfilt;

    Py_ssize_t half = k->half;
    k->twr = malloc((half / 2 + 1) * sizeof(double));
    k->twi = malloc((half / 2 + 1) * sizeof(double));
    k->pwr = malloc((half + 1) * sizeof(double));
    k->pwi = malloc((half + 1) * sizeof(double));
    k->bitrev = malloc(half * sizeof(Py_ssize_t));
    k->re = malloc(half * sizeof(double));
    k->im = malloc(half * sizeof(double));
    k->power = malloc(k->nbins * sizeof(double));
    k->energies = malloc((k->nfilt + 1) * sizeof(double));
    k->cap = length + BLOCK;
    k->buf = malloc(k->cap * sizeof(double));
    if (!k->twr || !k->twi || !k->pwr || !k->pwi || !k->bitrev || !k->re || !k->im ||
        !k->power || !k->energies || !k->buf) {
        PyErr_NoMemory();
        return -1;
    }
    const double tau = 6.283185307179586476925286766559;
    for (Py_ssize_t i = 0; i <= half / 2; i++) {
        k->twr[i] = cos(tau * (double)i / (double)half);
        k->twi[i] = -sin(tau * (double)i / (double)half);
    }
    for (Py_ssize_t i = 0; i <= half; i++) {
        k->pwr[i] = cos(tau * (double)i / (double)nfft);
        k->pwi[i] = -sin(tau * (double)i / (double)nfft);
    }
    int bits = 0;
    while (((Py_ssize_t)1 << bits) < half) bits++;
    for (Py_ssize_t i = 0; i < half; i++) {
        Py_ssize_t r = 0;
        for (int b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
        k->bitrev[i] = r;
    }
    return 0;
}

/* Features of the frame whose first sample is buf[start], written to out[0..nfeat). */
static void kernel_frame(Kernel *k, const double *frame, float *out) {
    const Py_ssize_t half = k->half, length = k->length;
    double *re = k->re, *im = k->im;
    /* Pack the real frame (windowed, zero-padded to nfft) as half complex values, in
     * bit-reversed order for the in-place radix-2 FFT. */
    for (Py_ssize_t n = 0; n < half; n++) {
        Py_ssize_t i = 2 * k->bitrev[n];
        double a = i < length ? frame[i] : 0.0;
        double b = i + 1 < length ? frame[i + 1] : 0.0;
        if (k->window) {
            if (i < length) a *= k->window[i];
            if (i + 1 < length) b *= k->window[i + 1];
        }
        re[n] = a;
        im[n] = b;
    }
    for (Py_ssize_t size = 2; size <= half; size *= 2) {
        Py_ssize_t h = size / 2, stride = half / size;
        for (Py_ssize_t s = 0; s < half; s += size) {
            for (Py_ssize_t j = 0; j < h; j++) {
                double wr = k->twr[j * stride], wi = k->twi[j * stride];
                Py_ssize_t a = s + j, b = a + h;
                double tr = re[b] * wr - im[b] * wi;
                double ti = re[b] * wi + im[b] * wr;
                re[b] = re[a] - tr;
                im[b] = im[a] - ti;
                re[a] += tr;
                im[a] += ti;
            }
        }
    }
    /* Untangle the half-size complex FFT into the real FFT's bins 0..half, then |X|^2 / nfft. */
    const double scale = 1.0 / (double)k->nfft;
    double total = 0.0;
    for (Py_ssize_t b = 0; b <= half; b++) {
        Py_ssize_t p = b % half, q = (half - b) % half;
        double zr = re[p], zi = im[p], cr = re[q], ci = im[q];
        double er = 0.5 * (zr + cr), ei = 0.5 * (zi - ci);
        double orr = 0.5 * (zi + ci), oi = -0.5 * (zr - cr);
        double xr = er + orr * k->pwr[b] - oi * k->pwi[b];
        double xi = ei + orr * k->pwi[b] + oi * k->pwr[b];
        double pw = (xr * xr + xi * xi) * scale;
        k->power[b] = pw;
        total += pw;
    }
    double *e = k->energies;
    for (Py_ssize_t j = 0; j < k->nfilt; j++) {
        const double *w = k->fweights + k->foff[j];
        double acc = 0.0;
        for (Py_ssize_t b = k->flo[j]; b < k->fhi[j]; b++) acc += *w++ * k->power[b];
        e[j] = log(acc > k->floor ? acc : k->floor);
    }
    if (!k->dct) {
        for (Py_ssize_t j = 0; j < k->nfilt; j++) out[j] = (float)e[j];
        return;
    }
    for (Py_ssize_t c = 0; c < k->numcep; c++) {
        double acc = 0.0;
        for (Py_ssize_t j = 0; j < k->nfilt; j++) acc += e[j] * k->dct[j * k->numcep + c];
        out[c] = (float)acc;
    }
    if (k->with_energy) out[0] = (float)log(total > k->floor ? total : k->floor);
}

#define APPEND(TYPE)                                                                   \
    do {                                                                               \
        const TYPE *x = (const TYPE *)src;                                             \
        double prev = k->last;                                                         \
        for (Py_ssize_t i = 0; i < take; i++) {                                        \
            double v = (double)x[i];                                                   \
            dst[i] = v - k->preemph * prev;                                            \
            prev = v;                                                                  \
        }                                                                              \
        k->last = prev;                                                                \
    } while (0)

/* push(samples, out) -> frames written. samples: contiguous int16/float32/float64; out: a
 * writable contiguous float32 buffer with room for every frame the push can complete. */
static PyObject *kernel_push(Kernel *k, PyObject *args) {
    PyObject *samples_obj, *out_obj;
    if (!PyArg_ParseTuple(args, "OO", &samples_obj, &out_obj)) return NULL;
    Py_buffer in, out;
    if (PyObject_GetBuffer(samples_obj, &in, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return NULL;
    const char *fmt = in.format ? in.format : "B";
    if (fmt[0] == '<' || fmt[0] == '=' || fmt[0] == '@') fmt++;
    int kind = strcmp(fmt, "h") == 0 ? 1 : strcmp(fmt, "f") == 0 ? 2 : strcmp(fmt, "d") == 0 ? 3 : 0;
    if (kind == 0 || in.len % in.itemsize != 0) {
        PyBuffer_Release(&in);
        PyErr_Format(PyExc_TypeError, "samples must be int16, float32 or float64, got '%s'", fmt);
        return NULL;
    }
    if (PyObject_GetBuffer(out_obj, &out, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE | PyBUF_FORMAT) <
        0) {
        PyBuffer_Release(&in);
        return NULL;
    }
    Py_ssize_t n = in.len / in.itemsize;
    Py_ssize_t room = (out.format && strcmp(out.format, "f") == 0) ? out.len / (4 * k->nfeat) : -1;
    Py_ssize_t pending = k->fill - k->start;
    Py_ssize_t needed = pending + n < k->length ? 0 : (pending + n - k->length) / k->step + 1;
    if (room < needed) {
        PyBuffer_Release(&in);
        PyBuffer_Release(&out);
        PyErr_Format(PyExc_ValueError, "out must be float32 with room for %zd frames", needed);
        return NULL;
    }
    float *dest = out.buf;
    Py_ssize_t written = 0;
    const char *src = in.buf;
    Py_BEGIN_ALLOW_THREADS
    Py_ssize_t remaining = n;
    while (remaining > 0) {
        if (k->fill == k->cap) {
            Py_ssize_t keep = k->fill - k->start;
            memmove(k->buf, k->buf + k->start, keep * sizeof(double));
            k->start = 0;
            k->fill = keep;
        }
        Py_ssize_t take = k->cap - k->fill;
        if (take > remaining) take = remaining;
        double *dst = k->buf + k->fill;
        if (kind == 1) APPEND(short);
        else if (kind == 2) APPEND(float);
        else APPEND(double);
        src += take * in.itemsize;
        remaining -= take;
        k->fill += take;
        while (k->fill - k->start >= k->length) {
            kernel_frame(k, k->buf + k->start, dest + written * k->nfeat);
            written++;
            k->start += k->step;
        }
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&in);
    PyBuffer_Release(&out);
    return PyLong_FromSsize_t(written);
}

static PyObject *kernel_reset(Kernel *k, PyObject *Py_UNUSED(ignored)) {
    k->start = k->fill = 0;
    k->last = 0.0;
    Py_RETURN_NONE;
}

static PyObject *kernel_pending(Kernel *k, void *Py_UNUSED(closure)) {
    return PyLong_FromSsize_t(k->fill - k->start);
}

static PyMethodDef kernel_methods[] = {
    {"push", (PyCFunction)kernel_push, METH_VARARGS,
     "push(samples, out) -> int: append samples, write every completed frame's features to "
     "out, return how many frames were written."},
    {"reset", (PyCFunction)kernel_reset, METH_NOARGS, "Forget all audio."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef kernel_getset[] = {
    {"pending", (getter)kernel_pending, NULL, "Samples held for the next frame.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject KernelType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "kws.features._native.Kernel",
    .tp_basicsize = sizeof(Kernel),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One stream's frontend state and per-frame arithmetic (see frontend.py).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)kernel_init,
    .tp_dealloc = (destructor)kernel_dealloc,
    .tp_methods = kernel_methods,
    .tp_getset = kernel_getset,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_native", "Compiled kernel of kws.features (see frontend.py).", -1,
    NULL, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__native(void) {
    if (PyType_Ready(&KernelType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&KernelType);
    if (PyModule_AddObject(m, "Kernel", (PyObject *)&KernelType) < 0) {
        Py_DECREF(&KernelType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
