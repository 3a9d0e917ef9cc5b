/* Sampler chain: greedy is argmax; the same seed gives the same draws; top-k / top-p / min-p
 * never return a token outside the set the definition allows (computed here directly from a
 * sorted softmax); draw frequencies follow softmax(logits / temp); bias and penalties shift
 * logits as llama.cpp defines them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "runtime/sampler.h"

#define V 50

static float logits[V];

static seek_sampler_params plain(void) {
    seek_sampler_params p = seek_sampler_defaults();
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0;
    p.temp = 1.0f;
    p.seed = 42;
    return p;
}

static int sample_once(const seek_sampler_params *p) {
    seek_sampler s;
    seek_sampler_init(&s, p, V);
    int t = seek_sampler_sample(&s, logits);
    seek_sampler_free(&s);
    return t;
}

int main(void) {
    uint64_t rng = 7;
    for (int i = 0; i < V; i++) logits[i] = 4.0f * seek_rng_uniform(&rng) - 2.0f;
    logits[17] = 3.5f; /* the argmax */
    int order[V];
    for (int i = 0; i < V; i++) order[i] = i;
    for (int i = 0; i < V; i++) /* sort ids by logit, descending */
        for (int j = i + 1; j < V; j++)
            if (logits[order[j]] > logits[order[i]]) { int t = order[i]; order[i] = order[j]; order[j] = t; }
    double prob[V], z = 0;
    for (int i = 0; i < V; i++) z += prob[i] = exp(logits[i] - logits[17]);
    for (int i = 0; i < V; i++) prob[i] /= z;

    seek_sampler_params p = plain();
    p.temp = 0;
    CHECK(sample_once(&p) == 17, "greedy picks the argmax");
    p = plain();
    p.top_k = 1;
    CHECK(sample_once(&p) == 17, "top-k 1 picks the argmax");

    /* same seed, same sequence; another seed, another sequence */
    seek_sampler a, b, c;
    p = plain();
    seek_sampler_init(&a, &p, V);
    seek_sampler_init(&b, &p, V);
    p.seed = 43;
    seek_sampler_init(&c, &p, V);
    int same = 1, differ = 0;
    for (int i = 0; i < 200; i++) {
        int x = seek_sampler_sample(&a, logits), y = seek_sampler_sample(&b, logits), w = seek_sampler_sample(&c, logits);
        same &= x == y;
        differ += x != w;
    }
    CHECK(same, "same seed gives the same draws");
    CHECK(differ > 0, "another seed gives other draws");
    seek_sampler_free(&a);
    seek_sampler_free(&b);
    seek_sampler_free(&c);

    /* frequencies follow softmax at temp 1 (20000 draws: each p within 4 sigma + 0.002) */
    p = plain();
    seek_sampler s;
    seek_sampler_init(&s, &p, V);
    int counts[V] = {0};
    const int N = 20000;
    for (int i = 0; i < N; i++) counts[seek_sampler_sample(&s, logits)]++;
    int bad = 0;
    for (int i = 0; i < V; i++) {
        double f = (double)counts[i] / N, sd = sqrt(prob[i] * (1 - prob[i]) / N);
        bad += fabs(f - prob[i]) > 4 * sd + 0.002;
    }
    CHECK(bad == 0, "%d tokens off their softmax probability", bad);
    seek_sampler_free(&s);

    /* top-k 5: only the five best; top-p 0.5: only the nucleus; min-p 0.3: only p >= 0.3 p_max */
    int nucleus = 0;
    for (double cum = 0; cum < 0.5; nucleus++) cum += prob[order[nucleus]];
    struct { const char *name; int top_k; float top_p, min_p; } cases[] = {
        {"top-k", 5, 1.0f, 0}, {"top-p", 0, 0.5f, 0}, {"min-p", 0, 1.0f, 0.3f}};
    for (int c_ = 0; c_ < 3; c_++) {
        p = plain();
        p.top_k = cases[c_].top_k;
        p.top_p = cases[c_].top_p;
        p.min_p = cases[c_].min_p;
        seek_sampler_init(&s, &p, V);
        int outside = 0;
        for (int i = 0; i < 3000; i++) {
            int t = seek_sampler_sample(&s, logits), rank = 0;
            while (order[rank] != t) rank++;
            if (c_ == 0) outside += rank >= 5;
            if (c_ == 1) outside += rank >= nucleus;
            if (c_ == 2) outside += prob[t] < 0.3 * prob[17] - 1e-6;
        }
        CHECK(outside == 0, "%s returned %d tokens outside its set", cases[c_].name, outside);
        seek_sampler_free(&s);
    }

    /* logit bias -inf bans the argmax; +100 forces a token */
    int32_t ids[1] = {17};
    float vals[1] = {-INFINITY};
    p = plain();
    p.temp = 0;
    p.n_bias = 1;
    p.bias_ids = ids;
    p.bias_vals = vals;
    CHECK(sample_once(&p) == order[1], "banned argmax gives the runner-up");
    vals[0] = 100;
    ids[0] = 3;
    CHECK(sample_once(&p) == 3, "bias forces a token");

    /* repeat penalty (llama.cpp rule: positive logits divided, negative multiplied) */
    p = plain();
    p.temp = 0;
    p.repeat_penalty = 100.0f;
    seek_sampler_init(&s, &p, V);
    seek_sampler_accept(&s, 17);
    CHECK(seek_sampler_sample(&s, logits) == order[1], "repeat penalty demotes a seen token");
    seek_sampler_free(&s);
    p.repeat_penalty = 1.0f;
    p.presence_penalty = 10.0f;
    seek_sampler_init(&s, &p, V);
    seek_sampler_accept(&s, 17);
    CHECK(seek_sampler_sample(&s, logits) == order[1], "presence penalty demotes a seen token");
    seek_sampler_free(&s);
    return check_summary("test_sampler");
}
