/*
 * C client test of the coco C ABI: every function and every error path.
 * Built with gcc -Wall -Wextra -Werror and run (also under valgrind) by scripts/test.sh.
 * Usage: test_coco WORKDIR VECTORS_DIR
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coco.h"

static int failures = 0;
#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n",        \
                    __FILE__, __LINE__, #cond,                                   \
                    coco_last_error() ? coco_last_error() : "(none)");           \
            failures++;                                                          \
        }                                                                        \
    } while (0)

#define CHUNK 65536
#define LEN (3 * CHUNK + 1234)

static char dir[512];
static char *path(const char *name) {
    static char bufs[8][600];
    static int next = 0;
    char *b = bufs[next++ % 8];
    snprintf(b, 600, "%s/%s", dir, name);
    return b;
}

static unsigned char plain[LEN];

static void write_file(const char *p, const unsigned char *data, size_t len) {
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(data, 1, len, f) != len) { perror(p); exit(2); }
    fclose(f);
}

static unsigned char *read_file(const char *p, size_t *len) {
    FILE *f = fopen(p, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(n > 0 ? (size_t)n : 1);
    if (fread(b, 1, (size_t)n, f) != (size_t)n) { perror(p); exit(2); }
    fclose(f);
    *len = (size_t)n;
    return b;
}

static int exists(const char *p) { return access(p, F_OK) == 0; }

/* The status says what failed; the last error only has to be there, one line, for people. */
static int last_error_set(void) {
    const char *e = coco_last_error();
    return e != NULL && e[0] != '\0' && strchr(e, '\n') == NULL;
}

/* ---- callbacks over memory ---- */
struct mem { unsigned char *data; size_t len, cap, pos; };

static int64_t mem_read(void *ctx, uint8_t *buf, size_t len) {
    struct mem *m = ctx;
    size_t n = m->len - m->pos < len ? m->len - m->pos : len;
    memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    return (int64_t)n;
}

static int32_t mem_write_at(void *ctx, uint64_t off, const uint8_t *buf, size_t len) {
    struct mem *m = ctx;
    if (off + len > m->cap) return -1;
    memcpy(m->data + off, buf, len);
    if (off + len > m->len) m->len = off + len;
    return 0;
}

static int32_t mem_read_at(void *ctx, uint64_t off, uint8_t *buf, size_t len) {
    const struct mem *m = ctx;
    if (off + len > m->len) return -1;
    memcpy(buf, m->data + off, len);
    return 0;
}

static pthread_mutex_t mem_lock = PTHREAD_MUTEX_INITIALIZER;

/* Thread-safe: coco_reader_unseal_write may call it from several threads. */
static int32_t mem_write_at_locked(void *ctx, uint64_t off, const uint8_t *buf, size_t len) {
    pthread_mutex_lock(&mem_lock);
    int32_t rc = mem_write_at(ctx, off, buf, len);
    pthread_mutex_unlock(&mem_lock);
    return rc;
}

static int32_t failing_write_at(void *ctx, uint64_t off, const uint8_t *buf, size_t len) {
    (void)ctx; (void)off; (void)buf; (void)len;
    return -5;
}

/* ---- concurrent readers ---- */
struct job { const coco_reader *r; unsigned seed; int bad; };

static void *reader_thread(void *arg) {
    struct job *j = arg;
    unsigned char buf[5000];
    for (int i = 0; i < 300; i++) {
        j->seed = j->seed * 1103515245u + 12345u;
        uint64_t off = j->seed % LEN;
        size_t want = (j->seed >> 8) % sizeof buf;
        if (off + want > LEN) want = LEN - off;
        int64_t n = coco_reader_read_at(j->r, off, buf, want);
        if (n != (int64_t)want || memcmp(buf, plain + off, want) != 0) j->bad++;
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s WORKDIR VECTORS_DIR SNP_REFERENCE_CORIM\n", argv[0]);
        return 2;
    }
    snprintf(dir, sizeof dir, "%s", argv[1]);
    for (size_t i = 0; i < LEN; i++) plain[i] = (unsigned char)(i * 2654435761u >> 13);
    write_file(path("plain.bin"), plain, LEN);

    /* version and keys */
    CHECK(coco_version() != NULL && strlen(coco_version()) > 0);
    uint8_t key[32], other[32];
    CHECK(coco_generate_key(NULL, 32) == COCO_ERR_INVALID_ARGUMENT);
    CHECK(coco_generate_key(key, 31) == COCO_ERR_INVALID_ARGUMENT);
    CHECK(coco_generate_key(key, 32) == COCO_OK);
    CHECK(coco_generate_key(other, 32) == COCO_OK);
    CHECK(memcmp(key, other, 32) != 0);

    /* seal: argument errors, then success */
    CHECK(coco_seal_file(NULL, 32, path("plain.bin"), path("s.coco"), CHUNK) == COCO_ERR_INVALID_ARGUMENT);
    CHECK(last_error_set());
    CHECK(coco_seal_file(key, 31, path("plain.bin"), path("s.coco"), CHUNK) == COCO_ERR_INVALID_ARGUMENT);
    CHECK(last_error_set());
    CHECK(coco_seal_file(key, 32, NULL, path("s.coco"), CHUNK) == COCO_ERR_INVALID_ARGUMENT);
    CHECK(coco_seal_file(key, 32, path("plain.bin"), NULL, CHUNK) == COCO_ERR_INVALID_ARGUMENT);
    CHECK(coco_seal_file(key, 32, path("plain.bin"), path("s.coco"), 1000) == COCO_ERR_INVALID_ARGUMENT);
    CHECK(coco_seal_file(key, 32, path("missing.bin"), path("s.coco"), CHUNK) == COCO_ERR_IO);
    CHECK(!exists(path("s.coco")));
    CHECK(coco_seal_file(key, 32, path("plain.bin"), path("s.coco"), CHUNK) == COCO_OK);

    /* inspect */
    char *json = NULL;
    CHECK(coco_inspect_json(path("s.coco"), NULL) == COCO_ERR_INVALID_ARGUMENT);
    CHECK(coco_inspect_json(NULL, &json) == COCO_ERR_INVALID_ARGUMENT && json == NULL);
    CHECK(coco_inspect_json(path("s.coco"), &json) == COCO_OK);
    CHECK(json != NULL && strstr(json, "\"n_chunks\":4") != NULL);
    coco_string_free(json);
    coco_string_free(NULL);

    /* open: every failure leaves *out NULL */
    coco_reader *r = (coco_reader *)0x1;
    CHECK(coco_reader_open(NULL, key, 32, &r) == COCO_ERR_INVALID_ARGUMENT && r == NULL);
    CHECK(coco_reader_open(path("s.coco"), key, 32, NULL) == COCO_ERR_INVALID_ARGUMENT);
    CHECK(coco_reader_open(path("s.coco"), key, 16, &r) == COCO_ERR_INVALID_ARGUMENT && r == NULL);
    CHECK(coco_reader_open(path("s.coco"), other, 32, &r) == COCO_ERR_WRONG_KEY && r == NULL);
    CHECK(last_error_set());
    CHECK(coco_reader_open(path("nope.coco"), key, 32, &r) == COCO_ERR_IO && r == NULL);
    CHECK(coco_reader_open(path("s.coco"), key, 32, &r) == COCO_OK && r != NULL);

    /* reads */
    unsigned char buf[3 * CHUNK];
    CHECK(coco_reader_len(NULL) == COCO_ERR_INVALID_ARGUMENT);
    CHECK(coco_reader_len(r) == LEN);
    CHECK(coco_reader_read_at(NULL, 0, buf, 10) == COCO_ERR_INVALID_ARGUMENT);
    CHECK(coco_reader_read_at(r, 0, NULL, 10) == COCO_ERR_INVALID_ARGUMENT);
    CHECK(coco_reader_read_at(r, 0, NULL, 0) == 0);
    CHECK(coco_reader_read_at(r, 0, buf, 100) == 100 && memcmp(buf, plain, 100) == 0);
    CHECK(coco_reader_read_at(r, CHUNK - 50, buf, 2 * CHUNK) == 2 * CHUNK &&
          memcmp(buf, plain + CHUNK - 50, 2 * CHUNK) == 0);
    CHECK(coco_reader_read_at(r, LEN - 10, buf, 100) == 10 && memcmp(buf, plain + LEN - 10, 10) == 0);
    CHECK(coco_reader_read_at(r, LEN, buf, 100) == 0);
    CHECK(coco_reader_read_at(r, (uint64_t)LEN + 1000000, buf, 100) == 0);

    /* parallel unseal into a caller buffer */
    unsigned char *all = malloc(LEN);
    CHECK(coco_reader_unseal_into(r, all, LEN - 1, 0) == COCO_ERR_INVALID_ARGUMENT);
    CHECK(coco_reader_unseal_into(r, NULL, LEN, 0) == COCO_ERR_INVALID_ARGUMENT);
    CHECK(coco_reader_unseal_into(NULL, all, LEN, 0) == COCO_ERR_INVALID_ARGUMENT);
    CHECK(coco_reader_unseal_into(r, all, LEN, 2) == COCO_OK && memcmp(all, plain, LEN) == 0);

    /* concurrent read_at on one reader */
    pthread_t th[4];
    struct job jobs[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (struct job){r, (unsigned)i * 7919u + 1u, 0};
        pthread_create(&th[i], NULL, reader_thread, &jobs[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK(jobs[i].bad == 0);
    }
    coco_reader_free(r);
    coco_reader_free(NULL);

    /* unseal to a file; failures leave no output */
    CHECK(coco_unseal_file(NULL, 32, path("s.coco"), path("u.bin")) == COCO_ERR_INVALID_ARGUMENT);
    CHECK(coco_unseal_file(key, 32, NULL, path("u.bin")) == COCO_ERR_INVALID_ARGUMENT);
    CHECK(coco_unseal_file(key, 32, path("s.coco"), NULL) == COCO_ERR_INVALID_ARGUMENT);
    CHECK(coco_unseal_file(other, 32, path("s.coco"), path("u.bin")) == COCO_ERR_WRONG_KEY);
    CHECK(!exists(path("u.bin")));
    CHECK(coco_unseal_file(key, 32, path("s.coco"), path("u.bin")) == COCO_OK);
    size_t ulen = 0;
    unsigned char *u = read_file(path("u.bin"), &ulen);
    CHECK(u != NULL && ulen == LEN && memcmp(u, plain, LEN) == 0);
    free(u);

    /* tampering: a flipped byte in chunk 1 fails only the reads that touch chunk 1 */
    size_t slen = 0;
    unsigned char *sealed = read_file(path("s.coco"), &slen);
    CHECK(sealed != NULL && slen == 4096 + LEN);
    unsigned char *bad = malloc(slen + 1);
    memcpy(bad, sealed, slen);
    bad[4096 + CHUNK + 77] ^= 1;
    write_file(path("t.coco"), bad, slen);
    CHECK(coco_reader_open(path("t.coco"), key, 32, &r) == COCO_OK);
    CHECK(coco_reader_read_at(r, 10, buf, 100) == 100 && memcmp(buf, plain + 10, 100) == 0);
    CHECK(coco_reader_read_at(r, 2 * CHUNK, buf, 100) == 100 && memcmp(buf, plain + 2 * CHUNK, 100) == 0);
    memset(buf, 0xAA, 200);
    CHECK(coco_reader_read_at(r, CHUNK + 10, buf, 200) == COCO_ERR_TAMPERED);
    CHECK(last_error_set());
    int zeroed = 1;
    for (int i = 0; i < 200; i++) zeroed &= buf[i] == 0;
    CHECK(zeroed);
    CHECK(coco_reader_read_at(r, CHUNK - 5, buf, 10) == COCO_ERR_TAMPERED);
    CHECK(coco_reader_unseal_into(r, all, LEN, 0) == COCO_ERR_TAMPERED);
    {
        struct mem outm = {malloc(LEN), 0, LEN, 0};
        CHECK(coco_reader_unseal_write(r, mem_write_at_locked, &outm, 2) == COCO_ERR_TAMPERED);
        free(outm.data);
    }
    coco_reader_free(r);
    CHECK(coco_unseal_file(key, 32, path("t.coco"), path("t.bin")) == COCO_ERR_TAMPERED);
    CHECK(!exists(path("t.bin")));

    /* structural failures */
    write_file(path("trunc.coco"), sealed, slen - 1);
    CHECK(coco_reader_open(path("trunc.coco"), key, 32, &r) == COCO_ERR_TRUNCATED && r == NULL);
    memcpy(bad, sealed, slen);
    bad[slen] = 0;
    write_file(path("ext.coco"), bad, slen + 1);
    CHECK(coco_reader_open(path("ext.coco"), key, 32, &r) == COCO_ERR_EXTENDED && r == NULL);
    memcpy(bad, sealed, slen);
    bad[0] = 'X';
    write_file(path("magic.coco"), bad, slen);
    CHECK(coco_reader_open(path("magic.coco"), key, 32, &r) == COCO_ERR_MALFORMED && r == NULL);
    memcpy(bad, sealed, slen);
    bad[8] = 2;
    write_file(path("version.coco"), bad, slen);
    CHECK(coco_reader_open(path("version.coco"), key, 32, &r) == COCO_ERR_UNSUPPORTED && r == NULL);
    memcpy(bad, sealed, slen);
    bad[40] ^= 1; /* salt */
    write_file(path("salt.coco"), bad, slen);
    CHECK(coco_reader_open(path("salt.coco"), key, 32, &r) == COCO_ERR_TAMPERED && r == NULL);

    /* streaming seal through callbacks, then a reader over a read_at callback */
    struct mem src = {plain, LEN, LEN, 0};
    struct mem dst = {malloc(slen + 8192), 0, slen + 8192, 0};
    CHECK(coco_seal_stream(key, 32, LEN, CHUNK, NULL, &src, mem_write_at, &dst) == COCO_ERR_INVALID_ARGUMENT);
    CHECK(coco_seal_stream(key, 32, LEN, CHUNK, mem_read, &src, NULL, &dst) == COCO_ERR_INVALID_ARGUMENT);
    CHECK(coco_seal_stream(key, 32, LEN, CHUNK, mem_read, &src, failing_write_at, &dst) == COCO_ERR_IO);
    src.pos = 0;
    CHECK(coco_seal_stream(key, 32, LEN + 1, CHUNK, mem_read, &src, mem_write_at, &dst) == COCO_ERR_INVALID_ARGUMENT);
    src.pos = 0;
    dst.len = 0;
    CHECK(coco_seal_stream(key, 32, LEN, CHUNK, mem_read, &src, mem_write_at, &dst) == COCO_OK);
    CHECK(dst.len == slen);
    CHECK(coco_reader_open_callback(NULL, &dst, dst.len, key, 32, &r) == COCO_ERR_INVALID_ARGUMENT && r == NULL);
    CHECK(coco_reader_open_callback(mem_read_at, &dst, dst.len, other, 32, &r) == COCO_ERR_WRONG_KEY);
    CHECK(coco_reader_open_callback(mem_read_at, &dst, dst.len - 1, key, 32, &r) == COCO_ERR_TRUNCATED);
    CHECK(coco_reader_open_callback(mem_read_at, &dst, dst.len, key, 32, &r) == COCO_OK);
    CHECK(coco_reader_unseal_into(r, all, LEN, 2) == COCO_OK && memcmp(all, plain, LEN) == 0);
    /* unseal through a positional-write callback, 1 and 2 threads */
    for (size_t t = 1; t <= 2; t++) {
        struct mem outm = {malloc(LEN), 0, LEN, 0};
        memset(outm.data, 0, LEN);
        CHECK(coco_reader_unseal_write(r, mem_write_at_locked, &outm, t) == COCO_OK);
        CHECK(outm.len == LEN && memcmp(outm.data, plain, LEN) == 0);
        free(outm.data);
    }
    CHECK(coco_reader_unseal_write(r, NULL, NULL, 1) == COCO_ERR_INVALID_ARGUMENT);
    CHECK(coco_reader_unseal_write(NULL, mem_write_at, &dst, 1) == COCO_ERR_INVALID_ARGUMENT);
    CHECK(coco_reader_unseal_write(r, failing_write_at, NULL, 1) == COCO_ERR_IO);
    coco_reader_free(r);

    /* evidence verification (SEV-SNP, real VLEK-signed report) */
    char vdir[600], rpath[700], opts[1000];
    snprintf(vdir, sizeof vdir, "%s/snp/milan-v3-vlek-aws-trustee", argv[2]);
    snprintf(rpath, sizeof rpath, "%s/report.bin", vdir);
    size_t rlen = 0;
    unsigned char *rep = read_file(rpath, &rlen);
    CHECK(rep != NULL && rlen == 1184);
    char *out = NULL;
    snprintf(opts, sizeof opts, "{\"certs\": \"%s\", \"at\": \"2025-06-01T00:00:00Z\"}", vdir);
    CHECK(coco_evidence_verify_json("snp", rep, rlen, opts, &out) == COCO_OK);
    CHECK(out != NULL && strstr(out, "\"verified\":true") && strstr(out, "\"signing_key\":\"vlek\""));
    coco_string_free(out);
    snprintf(opts, sizeof opts, "{\"certs\": \"%s\", \"at\": \"2025-12-11T00:00:00Z\"}", vdir);
    CHECK(coco_evidence_verify_json("snp", rep, rlen, opts, &out) == COCO_ERR_VERIFICATION);
    CHECK(out != NULL && strstr(out, "\"verified\":false") && strstr(out, "\"kind\":\"expired\""));
    CHECK(last_error_set());
    coco_string_free(out);
    CHECK(coco_evidence_verify_json("tdx-unknown", rep, rlen, NULL, &out) == COCO_ERR_VERIFICATION);
    CHECK(out != NULL && strstr(out, "unsupported platform"));
    coco_string_free(out);
    CHECK(coco_evidence_verify_json(NULL, rep, rlen, NULL, &out) == COCO_ERR_INVALID_ARGUMENT && out == NULL);
    CHECK(coco_evidence_verify_json("snp", NULL, 10, NULL, &out) == COCO_ERR_INVALID_ARGUMENT);
    CHECK(coco_evidence_verify_json("snp", rep, rlen, "{not json", &out) == COCO_ERR_INVALID_ARGUMENT);
    CHECK(coco_evidence_verify_json("snp", rep, rlen, "{\"bogus\": 1}", &out) == COCO_ERR_INVALID_ARGUMENT);
    CHECK(coco_evidence_verify_json("snp", rep, rlen, NULL, NULL) == COCO_ERR_INVALID_ARGUMENT);
    free(rep);

    /* appraisal: the same report against reference values (a CoRIM of its measurement) */
    char ev[1000], policy[1200], aopts[4096];
    snprintf(ev, sizeof ev, "[{\"platform\": \"snp\", \"path\": \"%s\"}]", rpath);
    snprintf(policy, sizeof policy, "%s", path("waive-snp-revocation.toml"));
    const char *waiver = "[require_revocation_check]\nsnp = false\n";
    write_file(policy, (const unsigned char *)waiver, strlen(waiver));
    snprintf(aopts, sizeof aopts,
             "{\"certs\": \"%s\", \"at\": \"2025-06-01T00:00:00Z\", \"references\": [\"%s\"], "
             "\"policy\": \"%s\"}", vdir, argv[3], policy);
    CHECK(coco_appraise_json(ev, aopts, &out) == COCO_OK);
    CHECK(out != NULL && strstr(out, "\"status\":\"affirming\"") && strstr(out, "\"findings\":[]"));
    coco_string_free(out);
    /* the strict default policy requires AMD's CRL: refused, the finding names the claim */
    snprintf(aopts, sizeof aopts,
             "{\"certs\": \"%s\", \"at\": \"2025-06-01T00:00:00Z\", \"references\": [\"%s\"]}",
             vdir, argv[3]);
    CHECK(coco_appraise_json(ev, aopts, &out) == COCO_ERR_APPRAISAL);
    CHECK(out != NULL && strstr(out, "\"status\":\"contraindicated\"")
          && strstr(out, "\"claim\":\"cpu0.revocation_checked\""));
    coco_string_free(out);
    /* evidence that does not verify: the evidence error's kind, its class and index */
    snprintf(aopts, sizeof aopts,
             "{\"certs\": \"%s\", \"at\": \"2025-12-11T00:00:00Z\", \"references\": [\"%s\"]}",
             vdir, argv[3]);
    CHECK(coco_appraise_json(ev, aopts, &out) == COCO_ERR_VERIFICATION);
    CHECK(out != NULL && strstr(out, "\"kind\":\"expired\"") && strstr(out, "\"class\":\"evidence\"")
          && strstr(out, "\"index\":0"));
    coco_string_free(out);
    /* an unusable policy: a configuration error naming the policy */
    snprintf(policy, sizeof policy, "%s", path("typo.toml"));
    const char *typo = "requre_binding = false\n";
    write_file(policy, (const unsigned char *)typo, strlen(typo));
    snprintf(aopts, sizeof aopts,
             "{\"certs\": \"%s\", \"at\": \"2025-06-01T00:00:00Z\", \"references\": [\"%s\"], "
             "\"policy\": \"%s\"}", vdir, argv[3], policy);
    CHECK(coco_appraise_json(ev, aopts, &out) == COCO_ERR_CONFIG);
    CHECK(out != NULL && strstr(out, "\"kind\":\"policy\""));
    coco_string_free(out);
    /* bad arguments */
    CHECK(coco_appraise_json(NULL, NULL, &out) == COCO_ERR_INVALID_ARGUMENT && out == NULL);
    CHECK(coco_appraise_json("{}", NULL, &out) == COCO_ERR_INVALID_ARGUMENT);
    CHECK(coco_appraise_json(ev, "{\"bogus\": 1}", &out) == COCO_ERR_INVALID_ARGUMENT);
    CHECK(coco_appraise_json(ev, NULL, NULL) == COCO_ERR_INVALID_ARGUMENT);
    CHECK(coco_appraise_json("[{\"platform\": \"snp\", \"path\": \"/nonexistent/report\"}]", NULL, &out)
          == COCO_ERR_IO && out == NULL);

    free(dst.data);
    free(bad);
    free(sealed);
    free(all);
    if (failures) {
        fprintf(stderr, "test_coco: %d check(s) failed\n", failures);
        return 1;
    }
    printf("test_coco: all checks passed\n");
    return 0;
}
