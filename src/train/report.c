/* report.html from log.jsonl (see report.h): three inline SVG charts, no scripts, no network. */
#include "train/report.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

typedef struct {
    double *x, *y;
    int n, cap;
} series;

static void push(series *s, double x, double y) {
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 256;
        double *nx = realloc(s->x, (size_t)cap * sizeof *nx), *ny = nx ? realloc(s->y, (size_t)cap * sizeof *ny) : NULL;
        if (!nx || !ny) {
            if (nx) s->x = nx;
            return;
        }
        s->x = nx;
        s->y = ny;
        s->cap = cap;
    }
    s->x[s->n] = x;
    s->y[s->n++] = y;
}

/* one line chart of up to two series sharing the axes */
static void chart(FILE *f, const char *title, const series *a, const char *na, const series *b, const char *nb) {
    const double W = 640, H = 260, L = 60, R = 20, T = 30, B = 40;
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    const series *ss[2] = {a, b};
    for (int k = 0; k < 2; k++)
        for (int i = 0; ss[k] && i < ss[k]->n; i++) {
            x0 = fmin(x0, ss[k]->x[i]), x1 = fmax(x1, ss[k]->x[i]);
            y0 = fmin(y0, ss[k]->y[i]), y1 = fmax(y1, ss[k]->y[i]);
        }
    if (!(x1 > x0)) x1 = x0 + 1;
    if (!(y1 > y0)) y1 = y0 + 1;
    fprintf(f, "<h2>%s</h2>\n<svg width=\"%g\" height=\"%g\" viewBox=\"0 0 %g %g\" style=\"background:#fff;border:1px solid #ccc\">\n", title, W, H, W, H);
    fprintf(f, "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"#000\"/><line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"#000\"/>\n", L,
            H - B, W - R, H - B, L, T, L, H - B);
    for (int i = 0; i <= 4; i++) {
        const double yv = y0 + (y1 - y0) * i / 4, py = H - B - (H - B - T) * i / 4;
        const double xv = x0 + (x1 - x0) * i / 4, px = L + (W - L - R) * i / 4;
        fprintf(f, "<text x=\"%g\" y=\"%g\" font-size=\"11\" text-anchor=\"end\">%.3g</text>\n", L - 4, py + 4, yv);
        fprintf(f, "<text x=\"%g\" y=\"%g\" font-size=\"11\" text-anchor=\"middle\">%.0f</text>\n", px, H - B + 16, xv);
    }
    fprintf(f, "<text x=\"%g\" y=\"%g\" font-size=\"12\" text-anchor=\"middle\">step</text>\n", (L + W - R) / 2, H - 6);
    static const char *const colors[2] = {"#1f77b4", "#d62728"};
    const char *names[2] = {na, nb};
    for (int k = 0; k < 2; k++) {
        if (!ss[k] || !ss[k]->n) continue;
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", colors[k]);
        for (int i = 0; i < ss[k]->n; i++)
            fprintf(f, "%.1f,%.1f ", L + (ss[k]->x[i] - x0) / (x1 - x0) * (W - L - R), H - B - (ss[k]->y[i] - y0) / (y1 - y0) * (H - B - T));
        fprintf(f, "\"/>\n<text x=\"%g\" y=\"%g\" font-size=\"12\" fill=\"%s\">%s</text>\n", W - R - 150, T + 14 + 16 * k, colors[k], names[k]);
    }
    fprintf(f, "</svg>\n");
}

static void load_bars(FILE *f, const json_t *load) {
    if (!json_is_array(load) || !json_array_size(load)) return;
    const size_t n_layers = json_array_size(load), E = json_array_size(json_array_get(load, 0));
    if (!E) return;
    const double W = 640, rowh = 60, H = 30 + rowh * (double)n_layers;
    fprintf(f, "<h2>Expert load at the last step (1.0 = fair share)</h2>\n<svg width=\"%g\" height=\"%g\" style=\"background:#fff;border:1px solid #ccc\">\n", W, H);
    for (size_t l = 0; l < n_layers; l++) {
        const json_t *row = json_array_get(load, l);
        double mx = 2;
        for (size_t e = 0; e < E; e++) mx = fmax(mx, json_number_value(json_array_get(row, e)));
        const double y = 20 + rowh * (double)l, bw = (W - 100) / (double)E;
        fprintf(f, "<text x=\"4\" y=\"%g\" font-size=\"11\">MoE layer %zu</text>\n", y + rowh / 2, l);
        fprintf(f, "<line x1=\"90\" x2=\"%g\" y1=\"%g\" y2=\"%g\" stroke=\"#999\" stroke-dasharray=\"3\"/>\n", W - 10,
                y + rowh - 10 - (rowh - 20) / mx, y + rowh - 10 - (rowh - 20) / mx);
        for (size_t e = 0; e < E; e++) {
            const double v = json_number_value(json_array_get(row, e)), h = (rowh - 20) * v / mx;
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>expert %zu: %.2f</title></rect>\n",
                    90 + bw * (double)e, y + rowh - 10 - h, bw * 0.8, h, v < 0.25 ? "#d62728" : "#2ca02c", e, v);
        }
    }
    fprintf(f, "</svg>\n");
}

seek_status seek_train_report(const char *out_dir) {
    char src[4200], dst[4200], tmp[4300];
    snprintf(src, sizeof src, "%s/log.jsonl", out_dir);
    snprintf(dst, sizeof dst, "%s/report.html", out_dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", dst);
    FILE *in = fopen(src, "r");
    if (!in) return seek_errorf(SEEK_ERR_IO, "cannot read %s", src);
    series loss = {0}, val = {0}, lr = {0};
    json_t *last_load = NULL;
    char line[1 << 16];
    while (fgets(line, sizeof line, in)) {
        json_t *o = json_loads(line, 0, NULL);
        if (!o) continue;
        const double step = json_number_value(json_object_get(o, "step"));
        push(&loss, step, json_number_value(json_object_get(o, "loss")));
        push(&lr, step, json_number_value(json_object_get(o, "lr")));
        if (json_object_get(o, "val_loss")) push(&val, step, json_number_value(json_object_get(o, "val_loss")));
        json_t *ld = json_object_get(o, "expert_load");
        if (ld) {
            json_decref(last_load);
            last_load = json_incref(ld);
        }
        json_decref(o);
    }
    fclose(in);
    FILE *f = fopen(tmp, "w");
    seek_status st = SEEK_OK;
    if (!f) {
        st = seek_errorf(SEEK_ERR_IO, "cannot write %s", tmp);
    } else {
        fprintf(f, "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>seek train: %s</title></head>\n"
                   "<body style=\"font-family:sans-serif;max-width:700px;margin:auto\">\n<h1>seek train: %s</h1>\n",
                out_dir, out_dir);
        chart(f, "Loss", &loss, "train loss", &val, "held-out loss");
        chart(f, "Learning rate", &lr, "lr", NULL, NULL);
        load_bars(f, last_load);
        fprintf(f, "</body></html>\n");
        if (fclose(f) || rename(tmp, dst)) st = seek_errorf(SEEK_ERR_IO, "cannot write %s", dst);
    }
    json_decref(last_load);
    free(loss.x), free(loss.y), free(val.x), free(val.y), free(lr.x), free(lr.y);
    return st;
}
