/* Incremental JSON-object checker (see json_mask.h): a pushdown automaton, one byte at a time. */
#include "server/json_mask.h"

#include <string.h>

enum {
    J_START,      /* before the top-level object: only '{' */
    J_VALUE,      /* a value is expected */
    J_KEY_OR_END, /* after '{': a key or '}' */
    J_KEY,        /* after ',' in an object: a key */
    J_COLON,      /* after a key */
    J_VAL_OR_END, /* after '[': a value or ']' */
    J_AFTER,      /* after a value: ',' or the closing bracket */
    J_STRING,
    J_ESCAPE,
    J_UNICODE,    /* sub hex digits of \uXXXX read */
    J_LITERAL,    /* sub bytes of true / false / null read */
    J_NUM_SIGN,   /* after '-' */
    J_NUM_ZERO,   /* a leading 0 */
    J_NUM_INT,
    J_NUM_DOT,
    J_NUM_FRAC,
    J_NUM_E,
    J_NUM_ESIGN,
    J_NUM_EXP,
    J_END,
};

void seek_json_init(seek_json_state *s) { memset(s, 0, sizeof *s); }

bool seek_json_done(const seek_json_state *s) { return s->st == J_END; }

static bool is_ws(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static bool is_hex(unsigned char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

/* A value has ended: back to its container, or the end. */
static void value_done(seek_json_state *s) { s->st = s->depth ? J_AFTER : J_END; }

static bool open(seek_json_state *s, unsigned char c) {
    if (s->depth == SEEK_JSON_MAX_DEPTH) return false;
    s->stack[s->depth++] = c;
    s->st = c == '{' ? J_KEY_OR_END : J_VAL_OR_END;
    return true;
}

static bool close(seek_json_state *s, unsigned char c) {
    if (!s->depth || s->stack[s->depth - 1] != (c == '}' ? '{' : '[')) return false;
    s->depth--;
    value_done(s);
    return true;
}

/* The first byte of a value. */
static bool value_start(seek_json_state *s, unsigned char c) {
    switch (c) {
    case '{': case '[': return open(s, c);
    case '"': s->in_key = false, s->st = J_STRING; return true;
    case '-': s->st = J_NUM_SIGN; return true;
    case '0': s->st = J_NUM_ZERO; return true;
    case 't': case 'f': case 'n': s->st = J_LITERAL, s->lit = c, s->sub = 1; return true;
    default:
        if (c >= '1' && c <= '9') {
            s->st = J_NUM_INT;
            return true;
        }
        return false;
    }
}

/* A number ends at the first byte that cannot continue it; that byte is read in J_AFTER. */
static bool number_end(seek_json_state *s, unsigned char c);

static bool step(seek_json_state *s, unsigned char c) {
    const bool structural = s->st != J_STRING && s->st != J_ESCAPE && s->st != J_UNICODE && s->st != J_LITERAL;
    if (structural && (s->st < J_NUM_SIGN || s->st == J_END) && is_ws(c)) return ++s->ws <= 8;
    if (structural) s->ws = 0;
    switch (s->st) {
    case J_START: return c == '{' && open(s, c);
    case J_VALUE: return value_start(s, c);
    case J_KEY_OR_END:
        if (c == '}') return close(s, c);
        /* fall through */
    case J_KEY:
        if (c != '"') return false;
        s->in_key = true, s->st = J_STRING;
        return true;
    case J_COLON:
        if (c != ':') return false;
        s->st = J_VALUE;
        return true;
    case J_VAL_OR_END:
        if (c == ']') return close(s, c);
        return value_start(s, c);
    case J_AFTER:
        if (c == '}' || c == ']') return close(s, c);
        if (c != ',') return false;
        s->st = s->stack[s->depth - 1] == '{' ? J_KEY : J_VALUE;
        return true;
    case J_STRING:
        if (c == '"') {
            if (s->in_key) s->st = J_COLON;
            else value_done(s);
            return true;
        }
        if (c == '\\') s->st = J_ESCAPE;
        return c >= 0x20;
    case J_ESCAPE:
        if (c == 'u') {
            s->st = J_UNICODE, s->sub = 0;
            return true;
        }
        s->st = J_STRING;
        return strchr("\"\\/bfnrt", c) != NULL && c;
    case J_UNICODE:
        if (!is_hex(c)) return false;
        if (++s->sub == 4) s->st = J_STRING;
        return true;
    case J_LITERAL: {
        const char *w = s->lit == 't' ? "true" : s->lit == 'f' ? "false" : "null";
        if ((unsigned char)w[s->sub] != c) return false;
        if (!w[++s->sub]) value_done(s);
        return true;
    }
    case J_NUM_SIGN:
        if (c == '0') s->st = J_NUM_ZERO;
        else if (c >= '1' && c <= '9') s->st = J_NUM_INT;
        else return false;
        return true;
    case J_NUM_ZERO:
        if (c == '.') return s->st = J_NUM_DOT, true;
        if (c == 'e' || c == 'E') return s->st = J_NUM_E, true;
        return number_end(s, c);
    case J_NUM_INT:
        if (is_digit(c)) return true;
        if (c == '.') return s->st = J_NUM_DOT, true;
        if (c == 'e' || c == 'E') return s->st = J_NUM_E, true;
        return number_end(s, c);
    case J_NUM_DOT:
        return is_digit(c) && (s->st = J_NUM_FRAC, true);
    case J_NUM_FRAC:
        if (is_digit(c)) return true;
        if (c == 'e' || c == 'E') return s->st = J_NUM_E, true;
        return number_end(s, c);
    case J_NUM_E:
        if (c == '+' || c == '-') return s->st = J_NUM_ESIGN, true;
        return is_digit(c) && (s->st = J_NUM_EXP, true);
    case J_NUM_ESIGN:
        return is_digit(c) && (s->st = J_NUM_EXP, true);
    case J_NUM_EXP:
        if (is_digit(c)) return true;
        return number_end(s, c);
    case J_END:
        return false; /* whitespace after the object is taken above */
    }
    return false;
}

static bool number_end(seek_json_state *s, unsigned char c) {
    value_done(s); /* numbers only occur inside the object, so this is J_AFTER */
    return step(s, c);
}

int seek_json_need(const seek_json_state *s) {
    const int close = s->depth; /* one bracket per open container */
    switch (s->st) {
    case J_START: return 2;                             /* {} */
    case J_VALUE: case J_NUM_SIGN: case J_NUM_DOT: case J_NUM_E: case J_NUM_ESIGN: return 1 + close; /* 0 */
    case J_KEY: return 4 + close;                       /* "":0 */
    case J_COLON: return 2 + close;                     /* :0 */
    case J_STRING: return 1 + (s->in_key ? 2 : 0) + close;
    case J_ESCAPE: return 2 + (s->in_key ? 2 : 0) + close;
    case J_UNICODE: return 4 - s->sub + 1 + (s->in_key ? 2 : 0) + close;
    case J_LITERAL: return (int)strlen(s->lit == 't' ? "true" : s->lit == 'f' ? "false" : "null") - s->sub + close;
    case J_END: return 0;
    default: return close; /* after a value, inside an empty container, or in a complete number */
    }
}

bool seek_json_feed(seek_json_state *s, const char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!step(s, (unsigned char)p[i])) return false;
    return true;
}
