/*
 * A simulated power cut for the device's files (docs/RELIABILITY.md, PowerLossIT).
 *
 * Loaded with LD_PRELOAD into the real `outpost` process. For every file operation under OUTPOST_POWER_DIR it appends
 * an undo record to OUTPOST_POWER_LOG before doing the operation:
 *   W  a write (write, pwrite, pwrite64, writev, and the kernel's copies: copy_file_range, sendfile): the bytes it
 *      overwrites and the file's size before
 *   T  a truncate (ftruncate): the bytes it cuts off and the size before
 *   S  an fsync or fdatasync of a file or a directory (its inode)
 *   C  a file created by open(O_CREAT), M a directory made, L a symbolic link made
 *   R  a rename, durable once both directories are synced (a file it replaces is kept as a hard link in the shadow
 *      directory first)
 *   U  an unlink (the file is kept as a hard link in the shadow directory first)
 * The log outlives the process: a write that a finished process never synced is lost at a later cut as well.
 * PowerCut (the test side) reads the log after the cut and undoes, newest first, everything no later fsync made
 * durable: data until the file is synced, a name until its directory is synced. OUTPOST_POWER_CUT_AT=n makes the
 * process SIGKILL itself just before its n-th logged operation: the cut.
 *
 * Not simulated: a write torn inside one system call, writes reordered within a file between two syncs (all of them
 * are lost, the strictest case), memory-mapped writes (SQLite's -shm index, rebuilt by SQLite after a crash; PowerCut
 * deletes it), and the operations of any other process.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static int ready;
static char root[PATH_MAX];
static size_t root_len;
static char log_path[PATH_MAX];
static char shadow_dir[PATH_MAX];
static int log_fd = -1;
static long cut_at;
static long ops;
static long shadows;

static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off64_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_pread)(int, void *, size_t, off_t);
static ssize_t (*real_copy_file_range)(int, off64_t *, int, off64_t *, size_t, unsigned int);
static ssize_t (*real_sendfile)(int, int, off_t *, size_t);
static ssize_t (*real_sendfile64)(int, int, off64_t *, size_t);
static int (*real_ftruncate)(int, off_t);
static int (*real_ftruncate64)(int, off64_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_open)(const char *, int, ...);
static int (*real_open64)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_openat64)(int, const char *, int, ...);
static int (*real_rename)(const char *, const char *);
static int (*real_renameat)(int, const char *, int, const char *);
static int (*real_unlink)(const char *);
static int (*real_unlinkat)(int, const char *, int);
static int (*real_mkdir)(const char *, mode_t);
static int (*real_symlink)(const char *, const char *);

static void init(void) {
    if (ready) {
        return;
    }
    real_write = dlsym(RTLD_NEXT, "write");
    real_pwrite = dlsym(RTLD_NEXT, "pwrite");
    real_pwrite64 = dlsym(RTLD_NEXT, "pwrite64");
    real_writev = dlsym(RTLD_NEXT, "writev");
    real_pread = dlsym(RTLD_NEXT, "pread");
    real_copy_file_range = dlsym(RTLD_NEXT, "copy_file_range");
    real_sendfile = dlsym(RTLD_NEXT, "sendfile");
    real_sendfile64 = dlsym(RTLD_NEXT, "sendfile64");
    real_ftruncate = dlsym(RTLD_NEXT, "ftruncate");
    real_ftruncate64 = dlsym(RTLD_NEXT, "ftruncate64");
    real_fsync = dlsym(RTLD_NEXT, "fsync");
    real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
    real_open = dlsym(RTLD_NEXT, "open");
    real_open64 = dlsym(RTLD_NEXT, "open64");
    real_openat = dlsym(RTLD_NEXT, "openat");
    real_openat64 = dlsym(RTLD_NEXT, "openat64");
    real_rename = dlsym(RTLD_NEXT, "rename");
    real_renameat = dlsym(RTLD_NEXT, "renameat");
    real_unlink = dlsym(RTLD_NEXT, "unlink");
    real_unlinkat = dlsym(RTLD_NEXT, "unlinkat");
    real_mkdir = dlsym(RTLD_NEXT, "mkdir");
    real_symlink = dlsym(RTLD_NEXT, "symlink");
    const char *dir = getenv("OUTPOST_POWER_DIR");
    const char *logp = getenv("OUTPOST_POWER_LOG");
    const char *cut = getenv("OUTPOST_POWER_CUT_AT");
    if (dir && logp && realpath(dir, root)) {
        root_len = strlen(root);
        snprintf(log_path, sizeof log_path, "%s", logp);
        snprintf(shadow_dir, sizeof shadow_dir, "%s.shadow", logp);
        cut_at = cut ? atol(cut) : 0;
    }
    ready = 1;
}

static int under_root(const char *path) {
    return root_len > 0 && strncmp(path, root, root_len) == 0 && (path[root_len] == '/' || path[root_len] == 0);
}

static int fd_path(int fd, char *out) {
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, out, PATH_MAX - 1);
    if (n <= 0) {
        return 0;
    }
    out[n] = 0;
    return 1;
}

/* The absolute path of `path` as seen from `dirfd`, with its parent directory resolved (the leaf may not exist). */
static int abs_path(int dirfd, const char *path, char *out) {
    char joined[PATH_MAX];
    if (path[0] == '/') {
        snprintf(joined, sizeof joined, "%s", path);
    } else {
        char base[PATH_MAX];
        if (dirfd == AT_FDCWD) {
            if (!getcwd(base, sizeof base)) {
                return 0;
            }
        } else if (!fd_path(dirfd, base)) {
            return 0;
        }
        snprintf(joined, sizeof joined, "%s/%s", base, path);
    }
    char *slash = strrchr(joined, '/');
    char parent[PATH_MAX];
    char resolved[PATH_MAX];
    if (slash == joined) {
        snprintf(parent, sizeof parent, "/");
    } else {
        snprintf(parent, sizeof parent, "%.*s", (int) (slash - joined), joined);
    }
    if (!realpath(parent, resolved)) {
        return 0;
    }
    snprintf(out, PATH_MAX, "%s/%s", strcmp(resolved, "/") == 0 ? "" : resolved, slash + 1);
    return 1;
}

static void put(char **p, const void *v, size_t n) {
    memcpy(*p, v, n);
    *p += n;
}

static void put64(char **p, uint64_t v) {
    put(p, &v, 8);
}

static void put_str(char **p, const char *s) {
    uint16_t n = (uint16_t) strlen(s);
    put(p, &n, 2);
    put(p, s, n);
}

/* Counts one operation and halts the process there when it is the cut. */
static void tick(void) {
    ops++;
    if (cut_at > 0 && ops == cut_at) {
        kill(getpid(), SIGKILL);
        for (;;) {
            pause();
        }
    }
}

/* Appends one record: a u32 length, then the body; a record cut short by the kill is ignored when read. */
static void open_log(void) {
    if (log_fd < 0) {
        log_fd = real_open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        real_mkdir(shadow_dir, 0755);
    }
}

static void append(const char *body, size_t n) {
    open_log();
    char *rec = malloc(n + 4);
    uint32_t len = (uint32_t) n;
    memcpy(rec, &len, 4);
    memcpy(rec + 4, body, n);
    size_t done = 0;
    while (done < n + 4) {
        ssize_t w = real_write(log_fd, rec + done, n + 4 - done);
        if (w <= 0) {
            break;
        }
        done += (size_t) w;
    }
    free(rec);
}

static int tracked_fd(int fd, struct stat *st) {
    char path[PATH_MAX];
    return root_len > 0 && fd_path(fd, path) && under_root(path) && fstat(fd, st) == 0;
}

/* Logs what [off, off + len) of the file holds now, and its size: a write or truncate can be undone from it. */
static void log_data(char type, int fd, struct stat *st, off_t off, size_t len) {
    tick();
    off_t size = st->st_size;
    size_t keep = off < size ? (size_t) (size - off < (off_t) len ? size - off : (off_t) len) : 0;
    char *body = malloc(1 + 8 * 4 + 4 + keep);
    char *p = body;
    put(&p, &type, 1);
    put64(&p, st->st_dev);
    put64(&p, st->st_ino);
    put64(&p, (uint64_t) off);
    put64(&p, (uint64_t) size);
    uint32_t k = (uint32_t) keep;
    put(&p, &k, 4);
    size_t got = 0;
    while (got < keep) {
        ssize_t r = real_pread(fd, p + got, keep - got, off + (off_t) got);
        if (r <= 0) {
            break;
        }
        got += (size_t) r;
    }
    memset(p + got, 0, keep - got);
    append(body, (size_t) (p - body) + keep);
    free(body);
}

static void before_write(int fd, off_t off, size_t len) {
    struct stat st;
    if (tracked_fd(fd, &st) && S_ISREG(st.st_mode)) {
        if (off < 0) {
            off = (fcntl(fd, F_GETFL) & O_APPEND) ? st.st_size : lseek(fd, 0, SEEK_CUR);
        }
        log_data('W', fd, &st, off, len);
    }
}

static void before_truncate(int fd, off_t len) {
    struct stat st;
    if (tracked_fd(fd, &st) && S_ISREG(st.st_mode)) {
        log_data('T', fd, &st, len, st.st_size > len ? (size_t) (st.st_size - len) : 0);
    }
}

static void before_sync(int fd) {
    struct stat st;
    if (tracked_fd(fd, &st)) {
        tick();
        char body[17];
        char *p = body;
        char t = 'S';
        put(&p, &t, 1);
        put64(&p, st.st_dev);
        put64(&p, st.st_ino);
        append(body, sizeof body);
    }
}

/* Logs a name made or removed in a directory: C, M, L (made), U (removed, kept in the shadow as `shadow`). */
static void log_name(char type, const char *path, const char *shadow) {
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%s", path);
    *strrchr(parent, '/') = 0;
    struct stat st;
    if (stat(parent, &st) != 0) {
        return;
    }
    tick();
    char body[1 + 16 + 2 * (PATH_MAX + 2)];
    char *p = body;
    put(&p, &type, 1);
    put64(&p, st.st_dev);
    put64(&p, st.st_ino);
    put_str(&p, path);
    put_str(&p, shadow ? shadow : "");
    append(body, (size_t) (p - body));
}

/* A rename, durable once both directories are synced (one, for a rename within a directory). */
static void log_rename(const char *a, const char *b, const char *shadow) {
    char pa[PATH_MAX];
    char pb[PATH_MAX];
    snprintf(pa, sizeof pa, "%s", a);
    *strrchr(pa, '/') = 0;
    snprintf(pb, sizeof pb, "%s", b);
    *strrchr(pb, '/') = 0;
    struct stat sa;
    struct stat sb;
    if (stat(pa, &sa) != 0 || stat(pb, &sb) != 0) {
        return;
    }
    tick();
    char body[1 + 32 + 3 * (PATH_MAX + 2)];
    char *p = body;
    char t = 'R';
    put(&p, &t, 1);
    put64(&p, sa.st_dev);
    put64(&p, sa.st_ino);
    put64(&p, sb.st_dev);
    put64(&p, sb.st_ino);
    put_str(&p, a);
    put_str(&p, b);
    put_str(&p, shadow);
    append(body, (size_t) (p - body));
}

/* A hard link to `path` in the shadow directory, so that a lost unlink or rename can bring the old file back. */
static int keep(const char *path, char *shadow) {
    struct stat st;
    if (lstat(path, &st) != 0 || S_ISDIR(st.st_mode)) {
        return 0;
    }
    open_log();
    snprintf(shadow, PATH_MAX, "%s/%d-%ld", shadow_dir, getpid(), ++shadows);
    return linkat(AT_FDCWD, path, AT_FDCWD, shadow, 0) == 0;
}

static int open_common(int dirfd, const char *path, int flags, mode_t mode, int at, int large) {
    init();
    char full[PATH_MAX];
    int creating = 0;
    if ((flags & O_CREAT) && root_len > 0 && abs_path(dirfd, path, full) && under_root(full)) {
        struct stat st;
        creating = lstat(full, &st) != 0;
    }
    pthread_mutex_lock(&lock);
    if (creating) {
        log_name('C', full, NULL);
    }
    int fd;
    if (at) {
        fd = large ? real_openat64(dirfd, path, flags, mode) : real_openat(dirfd, path, flags, mode);
    } else {
        fd = large ? real_open64(path, flags, mode) : real_open(path, flags, mode);
    }
    pthread_mutex_unlock(&lock);
    return fd;
}

#define MODE_ARG(flags)                                                                                                \
    mode_t mode = 0;                                                                                                   \
    if ((flags) & (O_CREAT | O_TMPFILE)) {                                                                             \
        va_list ap;                                                                                                    \
        va_start(ap, flags);                                                                                           \
        mode = va_arg(ap, mode_t);                                                                                     \
        va_end(ap);                                                                                                    \
    }

int open(const char *path, int flags, ...) {
    MODE_ARG(flags);
    return open_common(AT_FDCWD, path, flags, mode, 0, 0);
}

int open64(const char *path, int flags, ...) {
    MODE_ARG(flags);
    return open_common(AT_FDCWD, path, flags, mode, 0, 1);
}

int openat(int dirfd, const char *path, int flags, ...) {
    MODE_ARG(flags);
    return open_common(dirfd, path, flags, mode, 1, 0);
}

int openat64(int dirfd, const char *path, int flags, ...) {
    MODE_ARG(flags);
    return open_common(dirfd, path, flags, mode, 1, 1);
}

ssize_t write(int fd, const void *buf, size_t n) {
    init();
    pthread_mutex_lock(&lock);
    before_write(fd, -1, n);
    ssize_t r = real_write(fd, buf, n);
    pthread_mutex_unlock(&lock);
    return r;
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
    init();
    pthread_mutex_lock(&lock);
    before_write(fd, off, n);
    ssize_t r = real_pwrite(fd, buf, n, off);
    pthread_mutex_unlock(&lock);
    return r;
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off) {
    init();
    pthread_mutex_lock(&lock);
    before_write(fd, off, n);
    ssize_t r = real_pwrite64(fd, buf, n, off);
    pthread_mutex_unlock(&lock);
    return r;
}

ssize_t writev(int fd, const struct iovec *iov, int count) {
    init();
    size_t n = 0;
    for (int i = 0; i < count; i++) {
        n += iov[i].iov_len;
    }
    pthread_mutex_lock(&lock);
    before_write(fd, -1, n);
    ssize_t r = real_writev(fd, iov, count);
    pthread_mutex_unlock(&lock);
    return r;
}

ssize_t copy_file_range(int in, off64_t *in_off, int out, off64_t *out_off, size_t n, unsigned int flags) {
    init();
    pthread_mutex_lock(&lock);
    before_write(out, out_off ? *out_off : -1, n);
    ssize_t r = real_copy_file_range(in, in_off, out, out_off, n, flags);
    pthread_mutex_unlock(&lock);
    return r;
}

ssize_t sendfile(int out, int in, off_t *in_off, size_t n) {
    init();
    pthread_mutex_lock(&lock);
    before_write(out, -1, n);
    ssize_t r = real_sendfile(out, in, in_off, n);
    pthread_mutex_unlock(&lock);
    return r;
}

ssize_t sendfile64(int out, int in, off64_t *in_off, size_t n) {
    init();
    pthread_mutex_lock(&lock);
    before_write(out, -1, n);
    ssize_t r = real_sendfile64(out, in, in_off, n);
    pthread_mutex_unlock(&lock);
    return r;
}

int ftruncate(int fd, off_t len) {
    init();
    pthread_mutex_lock(&lock);
    before_truncate(fd, len);
    int r = real_ftruncate(fd, len);
    pthread_mutex_unlock(&lock);
    return r;
}

int ftruncate64(int fd, off64_t len) {
    init();
    pthread_mutex_lock(&lock);
    before_truncate(fd, len);
    int r = real_ftruncate64(fd, len);
    pthread_mutex_unlock(&lock);
    return r;
}

int fsync(int fd) {
    init();
    pthread_mutex_lock(&lock);
    before_sync(fd);
    int r = real_fsync(fd);
    pthread_mutex_unlock(&lock);
    return r;
}

int fdatasync(int fd) {
    init();
    pthread_mutex_lock(&lock);
    before_sync(fd);
    int r = real_fdatasync(fd);
    pthread_mutex_unlock(&lock);
    return r;
}

static int rename_common(int olddir, const char *from, int newdir, const char *to, int at) {
    init();
    char a[PATH_MAX];
    char b[PATH_MAX];
    pthread_mutex_lock(&lock);
    if (root_len > 0 && abs_path(olddir, from, a) && abs_path(newdir, to, b) && under_root(a) && under_root(b)) {
        char shadow[PATH_MAX] = "";
        if (!keep(b, shadow)) {
            shadow[0] = 0;
        }
        log_rename(a, b, shadow);
    }
    int r = at ? real_renameat(olddir, from, newdir, to) : real_rename(from, to);
    pthread_mutex_unlock(&lock);
    return r;
}

int rename(const char *from, const char *to) {
    return rename_common(AT_FDCWD, from, AT_FDCWD, to, 0);
}

int renameat(int olddir, const char *from, int newdir, const char *to) {
    return rename_common(olddir, from, newdir, to, 1);
}

static int unlink_common(int dirfd, const char *path, int flags, int at) {
    init();
    char full[PATH_MAX];
    pthread_mutex_lock(&lock);
    if (root_len > 0 && !(flags & AT_REMOVEDIR) && abs_path(dirfd, path, full) && under_root(full)) {
        char shadow[PATH_MAX];
        if (keep(full, shadow)) {
            log_name('U', full, shadow);
        }
    }
    int r = at ? real_unlinkat(dirfd, path, flags) : real_unlink(path);
    pthread_mutex_unlock(&lock);
    return r;
}

int unlink(const char *path) {
    return unlink_common(AT_FDCWD, path, 0, 0);
}

int unlinkat(int dirfd, const char *path, int flags) {
    return unlink_common(dirfd, path, flags, 1);
}

int mkdir(const char *path, mode_t mode) {
    init();
    char full[PATH_MAX];
    pthread_mutex_lock(&lock);
    struct stat st;
    if (root_len > 0 && abs_path(AT_FDCWD, path, full) && under_root(full) && lstat(full, &st) != 0) {
        log_name('M', full, NULL);
    }
    int r = real_mkdir(path, mode);
    pthread_mutex_unlock(&lock);
    return r;
}

int symlink(const char *target, const char *path) {
    init();
    char full[PATH_MAX];
    pthread_mutex_lock(&lock);
    struct stat st;
    if (root_len > 0 && abs_path(AT_FDCWD, path, full) && under_root(full) && lstat(full, &st) != 0) {
        log_name('L', full, NULL);
    }
    int r = real_symlink(target, path);
    pthread_mutex_unlock(&lock);
    return r;
}
