/*
 * outpost_rows: a table-valued function over rows packed into one blob, so that a device saves a batch of rows with
 * one bound value and one statement instead of a JNI call per value:
 *
 *   insert into t (a, b, c) select c0, c1, c2 from outpost_rows(?) where true
 *
 * The blob (little-endian): a byte, the values in each row (1..OUTPOST_ROWS_COLUMNS); then the rows, back to back,
 * each that many values, each a tag byte and its bytes:
 *   0 null
 *   1 integer: 8 bytes, two's complement
 *   2 real: 8 bytes, IEEE 754 binary64
 *   3 text: a 4-byte length, then that many bytes of UTF-8
 *   4 blob: a 4-byte length, then that many bytes
 * A blob that does not hold together (a value cut short, an unknown tag) fails the statement with a message naming
 * outpost_rows; the statement's rows are undone with it. The code is SQLITE_CONSTRAINT, not SQLITE_CORRUPT: on any
 * other code sqlite-jdbc finalizes the statement before reading the message, and the caller sees neither the message
 * nor a statement it can use again.
 *
 * Compiled into the device's SQLite (build-sqlite3mc.sh) and registered on every connection through
 * SQLITE_EXTRA_INIT=outpost_sqlite_init. The Java side is dev.outpost.device.sqlite.RowBatch.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "sqlite3.h"

#define OUTPOST_ROWS_COLUMNS 72

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "outpost_rows reads its blob's numbers in the host's byte order: little-endian hosts only"
#endif

typedef struct {
  sqlite3_vtab base;
} rows_vtab;

typedef struct {
  sqlite3_vtab_cursor base;
  unsigned char *data; /* the batch, copied: the bound value may not outlive the filter */
  int n;
  int pos;             /* where the next row starts */
  int columns;         /* values a row */
  int eof;
  sqlite3_int64 rowid;
  int at[OUTPOST_ROWS_COLUMNS]; /* where each value of the current row starts */
} rows_cursor;

static int rows_connect(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out,
                        char **err) {
  char sql[1024];
  int len = snprintf(sql, sizeof sql, "create table x(");
  for (int i = 0; i < OUTPOST_ROWS_COLUMNS; i++) {
    len += snprintf(sql + len, sizeof sql - len, "c%d, ", i);
  }
  snprintf(sql + len, sizeof sql - len, "batch hidden)");
  int rc = sqlite3_declare_vtab(db, sql);
  if (rc != SQLITE_OK) {
    return rc;
  }
  rows_vtab *v = sqlite3_malloc(sizeof *v);
  if (v == 0) {
    return SQLITE_NOMEM;
  }
  memset(v, 0, sizeof *v);
  *out = &v->base;
  return SQLITE_OK;
}

static int rows_disconnect(sqlite3_vtab *v) {
  sqlite3_free(v);
  return SQLITE_OK;
}

static int rows_open(sqlite3_vtab *v, sqlite3_vtab_cursor **out) {
  rows_cursor *c = sqlite3_malloc(sizeof *c);
  if (c == 0) {
    return SQLITE_NOMEM;
  }
  memset(c, 0, sizeof *c);
  c->eof = 1;
  *out = &c->base;
  return SQLITE_OK;
}

static int rows_close(sqlite3_vtab_cursor *cur) {
  rows_cursor *c = (rows_cursor *)cur;
  sqlite3_free(c->data);
  sqlite3_free(c);
  return SQLITE_OK;
}

static int corrupt(rows_cursor *c, const char *what) {
  sqlite3_vtab *v = c->base.pVtab;
  sqlite3_free(v->zErrMsg);
  v->zErrMsg = sqlite3_mprintf("outpost_rows: %s at byte %d of %d", what, c->pos, c->n);
  return SQLITE_CONSTRAINT;
}

static uint32_t u32_at(const unsigned char *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

/* Reads the row at pos: its values' places, or eof at the end. */
static int advance(rows_cursor *c) {
  if (c->pos == c->n) {
    c->eof = 1;
    return SQLITE_OK;
  }
  int p = c->pos;
  for (int i = 0; i < c->columns; i++) {
    if (p >= c->n) {
      return corrupt(c, "a row cut short");
    }
    c->at[i] = p;
    switch (c->data[p]) {
      case 0:
        p += 1;
        break;
      case 1:
      case 2:
        if (c->n - p < 9) {
          return corrupt(c, "a number cut short");
        }
        p += 9;
        break;
      case 3:
      case 4: {
        if (c->n - p < 5) {
          return corrupt(c, "a length cut short");
        }
        uint32_t len = u32_at(c->data + p + 1);
        if (len > (uint32_t)(c->n - p - 5)) {
          return corrupt(c, "a value longer than the batch");
        }
        p += 5 + (int)len;
        break;
      }
      default:
        return corrupt(c, "an unknown tag");
    }
  }
  c->pos = p;
  return SQLITE_OK;
}

static int rows_filter(sqlite3_vtab_cursor *cur, int idxNum, const char *idxStr, int argc, sqlite3_value **argv) {
  rows_cursor *c = (rows_cursor *)cur;
  sqlite3_free(c->data);
  c->data = 0;
  c->n = 0;
  c->pos = 0;
  c->rowid = 0;
  c->eof = 1;
  if (idxNum != 1 || argc != 1) {
    sqlite3_free(cur->pVtab->zErrMsg);
    cur->pVtab->zErrMsg = sqlite3_mprintf("outpost_rows: a batch is needed, outpost_rows(?)");
    return SQLITE_ERROR;
  }
  int n = sqlite3_value_bytes(argv[0]);
  const void *blob = sqlite3_value_blob(argv[0]);
  if (n == 0) {
    return SQLITE_OK; /* no rows */
  }
  c->data = sqlite3_malloc(n);
  if (c->data == 0) {
    return SQLITE_NOMEM;
  }
  memcpy(c->data, blob, n);
  c->n = n;
  c->columns = c->data[0];
  c->pos = 1;
  if (c->columns < 1 || c->columns > OUTPOST_ROWS_COLUMNS) {
    return corrupt(c, "a row width out of range");
  }
  c->eof = 0;
  return advance(c);
}

static int rows_next(sqlite3_vtab_cursor *cur) {
  rows_cursor *c = (rows_cursor *)cur;
  c->rowid++;
  return advance(c);
}

static int rows_eof(sqlite3_vtab_cursor *cur) {
  return ((rows_cursor *)cur)->eof;
}

static int rows_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int i) {
  rows_cursor *c = (rows_cursor *)cur;
  if (i >= c->columns) {
    sqlite3_result_null(ctx);
    return SQLITE_OK;
  }
  const unsigned char *p = c->data + c->at[i];
  switch (p[0]) {
    case 1: {
      sqlite3_int64 v;
      memcpy(&v, p + 1, 8);
      sqlite3_result_int64(ctx, v);
      break;
    }
    case 2: {
      double v;
      memcpy(&v, p + 1, 8);
      sqlite3_result_double(ctx, v);
      break;
    }
    case 3:
      sqlite3_result_text(ctx, (const char *)p + 5, (int)u32_at(p + 1), SQLITE_TRANSIENT);
      break;
    case 4:
      sqlite3_result_blob(ctx, p + 5, (int)u32_at(p + 1), SQLITE_TRANSIENT);
      break;
    default:
      sqlite3_result_null(ctx);
  }
  return SQLITE_OK;
}

static int rows_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *out) {
  *out = ((rows_cursor *)cur)->rowid;
  return SQLITE_OK;
}

/* The batch argument, batch = ?, is required: without it there is nothing to scan. */
static int rows_best_index(sqlite3_vtab *v, sqlite3_index_info *info) {
  int unusable = 0;
  for (int i = 0; i < info->nConstraint; i++) {
    const struct sqlite3_index_constraint *k = &info->aConstraint[i];
    if (k->iColumn != OUTPOST_ROWS_COLUMNS || k->op != SQLITE_INDEX_CONSTRAINT_EQ) {
      continue;
    }
    if (!k->usable) {
      unusable = 1;
      continue;
    }
    info->aConstraintUsage[i].argvIndex = 1;
    info->aConstraintUsage[i].omit = 1;
    info->idxNum = 1;
    info->estimatedCost = 1000;
    info->estimatedRows = 1000;
    return SQLITE_OK;
  }
  if (unusable) {
    return SQLITE_CONSTRAINT;
  }
  info->idxNum = 0;
  info->estimatedCost = 1e99;
  return SQLITE_OK;
}

static sqlite3_module rows_module = {
    0,                /* iVersion */
    0,                /* xCreate: eponymous only */
    rows_connect,     /* xConnect */
    rows_best_index,  /* xBestIndex */
    rows_disconnect,  /* xDisconnect */
    0,                /* xDestroy */
    rows_open,        /* xOpen */
    rows_close,       /* xClose */
    rows_filter,      /* xFilter */
    rows_next,        /* xNext */
    rows_eof,         /* xEof */
    rows_column,      /* xColumn */
    rows_rowid,       /* xRowid */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};

static int outpost_rows_register(sqlite3 *db, char **err, const sqlite3_api_routines *api) {
  return sqlite3_create_module(db, "outpost_rows", &rows_module, 0);
}

/* SQLITE_EXTRA_INIT: run once by sqlite3_initialize; every connection opened after it gets the module. */
int outpost_sqlite_init(const char *unused) {
  return sqlite3_auto_extension((void (*)(void))outpost_rows_register);
}
