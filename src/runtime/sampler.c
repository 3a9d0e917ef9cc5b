/* The sampler chain (see sampler.h). */
#include "runtime/sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

seek_sampler_params seek_sampler_defaults(void) {
    seek_sampler_params p = {.temp = 0.8f, .top_k = 40, .top_p = 0.95f, .min_p = 0.05f, .repeat_penalty = 1.0f,
                             .penalty_last_n = 64, .seed = 0};
    return p;
}

float seek_rng_uniform(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (float)(z >> 40) * (1.0f / 16777216.0f);
}

seek_status seek_sampler_init(seek_sampler *s, const seek_sampler_params *p, int32_t n_vocab) {
    memset(s, 0, sizeof *s);
    s->p = *p;
    s->n_vocab = n_vocab;
    s->rng = p->seed;
    if (s->p.penalty_last_n < 0) s->p.penalty_last_n = 0;
    s->cand = malloc((size_t)n_vocab * sizeof *s->cand);
    s->counts = calloc((size_t)n_vocab, sizeof *s->counts);
    s->hist = malloc((size_t)(s->p.penalty_last_n + 1) * sizeof *s->hist);
    s->bias_ids = malloc((size_t)(p->n_bias + 1) * sizeof *s->bias_ids);
    s->bias_vals = malloc((size_t)(p->n_bias + 1) * sizeof *s->bias_vals);
    if (!s->cand || !s->counts || !s->hist || !s->bias_ids || !s->bias_vals) {
        seek_sampler_free(s);
        return seek_errorf(SEEK_ERR_NOMEM, "sampler: out of memory");
    }
    for (int32_t i = 0; i < p->n_bias; i++) {
        if (p->bias_ids[i] < 0 || p->bias_ids[i] >= n_vocab) {
            seek_sampler_free(s);
            return seek_errorf(SEEK_ERR_INVALID, "logit bias: token id %d is out of range", p->bias_ids[i]);
        }
        s->bias_ids[i] = p->bias_ids[i];
        s->bias_vals[i] = p->bias_vals[i];
    }
    s->p.bias_ids = s->bias_ids;
    s->p.bias_vals = s->bias_vals;
    return SEEK_OK;
}

void seek_sampler_free(seek_sampler *s) {
    free(s->cand);
    free(s->counts);
    free(s->hist);
    free(s->bias_ids);
    free(s->bias_vals);
    memset(s, 0, sizeof *s);
}

void seek_sampler_reset(seek_sampler *s) {
    s->n_hist = 0;
    s->hist_pos = 0;
    s->rng = s->p.seed;
}

void seek_sampler_accept(seek_sampler *s, int32_t token) {
    if (s->p.penalty_last_n == 0) return;
    s->hist[s->hist_pos] = token;
    s->hist_pos = (s->hist_pos + 1) % s->p.penalty_last_n;
    if (s->n_hist < s->p.penalty_last_n) s->n_hist++;
}

static int cand_desc(const void *a, const void *b) {
    float x = ((const seek_candidate *)a)->logit, y = ((const seek_candidate *)b)->logit;
    if (x != y) return x > y ? -1 : 1;
    return ((const seek_candidate *)a)->id - ((const seek_candidate *)b)->id; /* ties: lower id first */
}

/* Restores the min-heap order (worst candidate on top) of c[0..k) below position j. */
static void sift_down(seek_candidate *c, int32_t k, int32_t j) {
    for (;;) {
        int32_t l = 2 * j + 1, r = l + 1, m = j;
        if (l < k && cand_desc(&c[l], &c[m]) > 0) m = l;
        if (r < k && cand_desc(&c[r], &c[m]) > 0) m = r;
        if (m == j) return;
        seek_candidate t = c[j];
        c[j] = c[m];
        c[m] = t;
        j = m;
    }
}

/* Moves the k largest candidates to the front, sorted descending (heap select, then sort). */
static void select_top(seek_candidate *c, int32_t n, int32_t k) {
    if (k >= n) {
        qsort(c, (size_t)n, sizeof *c, cand_desc);
        return;
    }
    for (int32_t i = k / 2 - 1; i >= 0; i--) sift_down(c, k, i);
    for (int32_t i = k; i < n; i++) {
        if (cand_desc(&c[i], &c[0]) >= 0) continue; /* not better than the worst kept */
        c[0] = c[i];
        sift_down(c, k, 0);
    }
    qsort(c, (size_t)k, sizeof *c, cand_desc);
}

static void apply_penalties(seek_sampler *s) {
    const seek_sampler_params *p = &s->p;
    if (s->n_hist == 0 || (p->repeat_penalty == 1.0f && p->presence_penalty == 0 && p->frequency_penalty == 0)) return;
    for (int32_t i = 0; i < s->n_hist; i++) s->counts[s->hist[i]]++;
    for (int32_t i = 0; i < s->n_hist; i++) {
        int32_t id = s->hist[i];
        int32_t cnt = s->counts[id];
        if (cnt == 0) continue; /* already done */
        float *l = &s->cand[id].logit;
        if (p->repeat_penalty != 1.0f) *l = *l > 0 ? *l / p->repeat_penalty : *l * p->repeat_penalty;
        *l -= (float)cnt * p->frequency_penalty + p->presence_penalty;
        s->counts[id] = 0;
    }
}

int32_t seek_sampler_sample(seek_sampler *s, const float *logits) {
    const seek_sampler_params *p = &s->p;
    int32_t n = s->n_vocab;
    for (int32_t i = 0; i < n; i++) s->cand[i] = (seek_candidate){i, logits[i], 0};
    for (int32_t i = 0; i < p->n_bias; i++) s->cand[p->bias_ids[i]].logit += p->bias_vals[i];
    apply_penalties(s);
    if (p->temp <= 0) {
        int32_t best = 0;
        for (int32_t i = 1; i < n; i++)
            if (s->cand[i].logit > s->cand[best].logit) best = i;
        return best;
    }
    /* top-k (sorting what is kept; with no top-k, sort all for top-p) */
    int32_t k = p->top_k > 0 && p->top_k < n ? p->top_k : n;
    select_top(s->cand, n, k);
    n = k;
    /* softmax over the survivors */
    float mx = s->cand[0].logit, sum = 0;
    for (int32_t i = 0; i < n; i++) sum += s->cand[i].p = expf(s->cand[i].logit - mx);
    for (int32_t i = 0; i < n; i++) s->cand[i].p /= sum;
    /* top-p: the smallest prefix whose probability reaches top_p */
    if (p->top_p < 1.0f) {
        float cum = 0;
        for (int32_t i = 0; i < n; i++) {
            cum += s->cand[i].p;
            if (cum >= p->top_p) {
                n = i + 1;
                break;
            }
        }
    }
    /* min-p: drop tokens whose probability is below min_p times the best one's */
    if (p->min_p > 0) {
        float thr = s->cand[0].p * p->min_p;
        int32_t m = 1;
        while (m < n && s->cand[m].p >= thr) m++;
        n = m;
    }
    /* temperature, then draw */
    sum = 0;
    for (int32_t i = 0; i < n; i++) sum += s->cand[i].p = expf((s->cand[i].logit - mx) / p->temp);
    float r = seek_rng_uniform(&s->rng) * sum, acc = 0;
    for (int32_t i = 0; i < n; i++) {
        acc += s->cand[i].p;
        if (r < acc) return s->cand[i].id;
    }
    return s->cand[n - 1].id;
}
