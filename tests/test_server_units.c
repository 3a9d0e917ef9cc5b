/* Pieces of the server that need no HTTP: the JSON-object checker behind response_format (valid
 * objects accepted at every split, invalid prefixes refused at the first bad byte, whitespace runs
 * capped), shared KV blocks with copy-on-write truncation (a sequence sharing a prefix never
 * changes another's cache), and the UTF-8 repair applied before text goes into JSON. */
#include <string.h>

#include "check.h"
#include "runtime/kv_cache.h"
#include "server/json_mask.h"
#include "server/openai.h"

static bool accepts(const char *s, bool *done) {
    seek_json_state st;
    seek_json_init(&st);
    /* byte by byte, as tokens of one byte would feed it */
    for (size_t i = 0; s[i]; i++)
        if (!seek_json_feed(&st, s + i, 1)) return false;
    if (done) *done = seek_json_done(&st);
    return true;
}

static void test_json(void) {
    static const char *complete[] = {"{}", "{\"a\": 1}", " {\"a\":[1, -2.5e+3, true, false, null, \"x\\u00e9\\n\"], \"b\": {}}",
                                     "{\"k\": \"caf\xc3\xa9\"}", "{\"a\":0.5}\n"};
    for (size_t i = 0; i < sizeof complete / sizeof *complete; i++) {
        bool done = false;
        CHECK(accepts(complete[i], &done) && done, "complete object %zu refused or not done", i);
    }
    static const char *prefixes[] = {"{", "{\"a", "{\"a\": [1, 2", "{\"a\": -", "{\"a\": tr", "{\"a\": \"\\u00"};
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
        bool done = true;
        CHECK(accepts(prefixes[i], &done) && !done, "prefix %zu refused or done", i);
    }
    static const char *bad[] = {"[1]", "\"x\"", "{a:1}", "{\"a\" 1}", "{\"a\":01}", "{\"a\":1,}", "{\"a\":tru}", "{\"a\":[1}",
                                "{}x", "{\"a\":\"\x01\"}", "{\"a\":1}}", "{\"a\":\"\\x\"}", "{\"a\":1.}", "{\"a\":         1}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) CHECK(!accepts(bad[i], NULL), "invalid text %zu ('%s') accepted", i, bad[i]);
    /* seek_json_need: the length of the shortest completion, written out here by hand */
    static const char *cut[][2] = {{"", "{}"}, {"{", "}"}, {"{\"a", "\":0}"}, {"{\"a\"", ":0}"}, {"{\"a\":", "0}"},
                                   {"{\"a\": [1, 2", "]}"}, {"{\"a\": -", "0}"}, {"{\"a\": 1.", "0}"}, {"{\"a\": 1e", "0}"},
                                   {"{\"a\": tr", "ue}"}, {"{\"a\": \"\\u00", "00\"}"}, {"{\"a\":1,", "\"\":0}"},
                                   {"{\"a\":[{\"b\":\"x\\", "n\"}]}"}, {"{\"a\":12", "}"}, {"{}", ""}};
    for (size_t i = 0; i < sizeof cut / sizeof *cut; i++) {
        seek_json_state st;
        seek_json_init(&st);
        CHECK(seek_json_feed(&st, cut[i][0], strlen(cut[i][0])), "cut %zu: prefix refused", i);
        CHECK(seek_json_need(&st) == (int)strlen(cut[i][1]), "cut %zu ('%s'): need %d, want %zu", i, cut[i][0],
              seek_json_need(&st), strlen(cut[i][1]));
        CHECK(seek_json_feed(&st, cut[i][1], strlen(cut[i][1])) && seek_json_done(&st), "cut %zu: completion does not close", i);
    }
}

static void test_kv_share(void) {
    seek_kv_cache kv;
    CHECK(seek_kv_init(&kv, 2, 4, 0, 256, 3, SEEK_TYPE_F32, SEEK_TYPE_F32) == SEEK_OK, "kv init");
    /* sequence 0: 70 positions with values 1000*layer + pos */
    seek_kv_reserve(&kv, 0, 70);
    for (int64_t l = 0; l < 2; l++)
        for (int32_t p = 0; p < 70; p++) ((float *)seek_kv_k(&kv, l, 0, p))[0] = (float)(1000 * l + p);
    const int32_t free0 = kv.n_free;
    seek_kv_share(&kv, 1, 0, 2); /* two whole blocks: positions 0..63 */
    CHECK(kv.seqs[1].n_pos == 64 && kv.n_free == free0, "share: %d positions, %d blocks taken", kv.seqs[1].n_pos, free0 - kv.n_free);
    CHECK(((float *)seek_kv_k(&kv, 1, 1, 40))[0] == 1040.0f, "shared position reads the original");
    /* sequence 1 truncates inside a shared block and writes there: it must get its own copy */
    seek_kv_truncate(&kv, 1, 40);
    seek_kv_reserve(&kv, 1, 5);
    for (int32_t p = 40; p < 45; p++) ((float *)seek_kv_k(&kv, 1, 1, p))[0] = -1.0f;
    bool intact = true;
    for (int64_t l = 0; l < 2; l++)
        for (int32_t p = 0; p < 70; p++) intact &= ((float *)seek_kv_k(&kv, l, 0, p))[0] == (float)(1000 * l + p);
    CHECK(intact, "copy-on-write: sequence 0's cache changed");
    CHECK(((float *)seek_kv_k(&kv, 1, 1, 39))[0] == 1039.0f && ((float *)seek_kv_k(&kv, 1, 1, 41))[0] == -1.0f, "copy-on-write: sequence 1's own values");
    /* releasing everything returns every block */
    seek_kv_truncate(&kv, 1, 0);
    seek_kv_truncate(&kv, 0, 0);
    CHECK(kv.n_free == kv.n_blocks, "blocks leaked: %d of %d free", kv.n_free, kv.n_blocks);
    seek_kv_free(&kv);
}

static void test_utf8(void) {
    size_t n;
    char *s = seek_utf8_sanitize("a\xff" "b\xc3\xa9\xe2\x82", 7, &n);
    CHECK(s && !strcmp(s, "a\xef\xbf\xbd" "b\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd"), "sanitize: '%s'", s ? s : "(null)");
    free(s);
}

int main(void) {
    test_json();
    test_kv_share();
    test_utf8();
    return check_summary("test_server_units");
}
