/* batch_mpi.c — a night over MPI ranks (see sv_batch_run_mpi in batch.h).
 * Built only with configure --with-mpi (HAVE_MPI).
 *
 * Design.  Rank 0 coordinates AND works: its own workers take exposure
 * indices straight from the shared list (under the pool lock), while its
 * main thread runs the coordinator, a non-blocking loop (MPI_Irecv +
 * MPI_Test, sleeping 1 ms between polls, so it costs no CPU) that serves
 * the other ranks.  So `mpirun -np 2` on two cores keeps both busy.
 *
 * Protocol (tags on a private duplicate of the caller's communicator):
 *   TAG_REQUEST  rank r -> 0   a request record: the report of the exposure
 *                              the asking worker just finished (if any) and
 *                              whether it wants another one;
 *   TAG_ASSIGN   0 -> rank r   a 64-bit index into the manifest, or -1: no
 *                              more work (all handed out, or stopping);
 *   TAG_DONE     rank r -> 0   all of rank r's workers have ended.
 * Every worker thread of rank r > 0 asks for its next exposure itself, one
 * request/answer round trip at a time (the pool lock serialises them, so
 * MPI_THREAD_SERIALIZED is enough).  Exposures are handed out one at a time
 * as workers free up: exposures of different sizes balance over ranks.
 *
 * Results travel with the requests, so rank 0 holds every result as soon as
 * it is known (the summary is gathered there).  A failed exposure is just a
 * result: the rank goes on.  A rank whose cancel flag is up (mpirun forwards
 * SIGINT/SIGTERM to every rank) stops asking; rank 0 with its flag up
 * answers -1 to everyone; exposures never handed out are marked cancelled.
 * Outputs do not depend on which rank wrote them: each rank opens the same
 * stage with the same configuration.
 */
#include "config.h"

#ifdef HAVE_MPI

#include <mpi.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "batch/batch.h"

enum { TAG_REQUEST = 7101, TAG_ASSIGN = 7102, TAG_DONE = 7103 };

typedef struct mpi_request {
    int32_t has_report;
    int32_t want;
    sv_batch_report report;
} mpi_request;

typedef struct mpi_state {
    MPI_Comm comm;
    int rank, size;
    int failed;             /* an MPI call failed on this rank              */
    char why[MPI_MAX_ERROR_STRING + 128];
} mpi_state;

static void nap(long ns)
{
    struct timespec t = {0, ns};
    nanosleep(&t, NULL);
}

static void mpi_fail(mpi_state *s, const char *what, int code)
{
    if (s->failed)
        return;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(code, text, &len);
    snprintf(s->why, sizeof s->why, "MPI rank %d: %s: %s", s->rank, what, text);
    s->failed = 1;
}

/* Wait for one message without spinning a core. */
static int wait_request(MPI_Request *req, MPI_Status *st)
{
    int flag = 0, rc;
    while ((rc = MPI_Test(req, &flag, st)) == MPI_SUCCESS && !flag)
        nap(500000L);
    return rc;
}

/* Work source of ranks > 0: one round trip to rank 0 per exposure. */
static int remote_fetch(void *user, sv_batch *b, const sv_batch_report *finished,
                        size_t *next)
{
    mpi_state *s = user;
    if (s->failed)
        return 0;
    mpi_request q;
    memset(&q, 0, sizeof q);
    if (finished) {
        q.has_report = 1;
        q.report = *finished;
        q.report.rank = s->rank;
        sv_batch_record_locked(b, &q.report); /* this rank's own copy */
    }
    q.want = !sv_batch_cancelled(b);
    if (!q.has_report && !q.want)
        return 0;
    int64_t index = -1;
    MPI_Request rq = MPI_REQUEST_NULL;
    MPI_Status st;
    int rc;
    if (q.want && (rc = MPI_Irecv(&index, 1, MPI_INT64_T, 0, TAG_ASSIGN, s->comm, &rq)) !=
                      MPI_SUCCESS) {
        mpi_fail(s, "receive", rc);
        return 0;
    }
    if ((rc = MPI_Send(&q, (int)sizeof q, MPI_BYTE, 0, TAG_REQUEST, s->comm)) !=
        MPI_SUCCESS) {
        mpi_fail(s, "send", rc);
        if (q.want)
            MPI_Cancel(&rq);
        return 0;
    }
    if (!q.want)
        return 0;
    if ((rc = wait_request(&rq, &st)) != MPI_SUCCESS) {
        mpi_fail(s, "receive", rc);
        return 0;
    }
    if (index < 0 || (uint64_t)index >= sv_batch_count(b))
        return 0;
    *next = (size_t)index;
    return 1;
}

/* Work source of rank 0's own workers: the shared list. */
static int root_fetch(void *user, sv_batch *b, const sv_batch_report *finished,
                      size_t *next)
{
    (void)user;
    if (finished)
        sv_batch_record_locked(b, finished);
    return sv_batch_take_locked(b, next);
}

/* Rank 0's coordinator, in its main thread while its workers run. */
static void coordinate(void *user, sv_batch *b)
{
    mpi_state *s = user;
    int done = 0, rc;
    mpi_request q;
    while (done < s->size - 1) {
        MPI_Request rq;
        MPI_Status st;
        if ((rc = MPI_Irecv(&q, (int)sizeof q, MPI_BYTE, MPI_ANY_SOURCE, MPI_ANY_TAG,
                            s->comm, &rq)) != MPI_SUCCESS ||
            (rc = wait_request(&rq, &st)) != MPI_SUCCESS) {
            mpi_fail(s, "coordinator receive", rc);
            return;
        }
        if (st.MPI_TAG == TAG_DONE) {
            done++;
            continue;
        }
        if (st.MPI_TAG != TAG_REQUEST)
            continue;
        int64_t index = -1;
        size_t next;
        sv_batch_lock(b);
        if (q.has_report) {
            q.report.rank = st.MPI_SOURCE;
            sv_batch_record_locked(b, &q.report);
        }
        if (q.want && sv_batch_take_locked(b, &next))
            index = (int64_t)next;
        sv_batch_unlock(b);
        if (q.want &&
            (rc = MPI_Send(&index, 1, MPI_INT64_T, st.MPI_SOURCE, TAG_ASSIGN, s->comm)) !=
                MPI_SUCCESS) {
            mpi_fail(s, "coordinator send", rc);
            return;
        }
    }
}

int sv_batch_run_mpi(sv_batch *b, MPI_Comm comm, sv_error *err)
{
    int provided = 0, inited = 0;
    MPI_Initialized(&inited);
    if (!inited)
        return sv_error_set(err, SV_ERR_ARG, "batch --mpi: MPI is not initialised");
    MPI_Query_thread(&provided);
    if (provided < MPI_THREAD_SERIALIZED)
        return sv_error_set(err, SV_ERR_UNSUPPORTED,
                            "batch --mpi: the MPI library gives thread level %d, "
                            "MPI_THREAD_SERIALIZED is needed",
                            provided);
    mpi_state s = {0};
    if (MPI_Comm_dup(comm, &s.comm) != MPI_SUCCESS)
        return sv_error_set(err, SV_ERR_IO, "batch --mpi: cannot duplicate the communicator");
    MPI_Comm_set_errhandler(s.comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(s.comm, &s.rank);
    MPI_Comm_size(s.comm, &s.size);
    int rc;
    if (s.rank == 0) {
        rc = sv_batch_run_pool(b, root_fetch, &s, coordinate, &s, err);
        sv_batch_lock(b);
        sv_batch_mark_pending_cancelled(b);
        sv_batch_unlock(b);
    } else {
        rc = sv_batch_run_pool(b, remote_fetch, &s, NULL, NULL, err);
        int code = MPI_Send(NULL, 0, MPI_BYTE, 0, TAG_DONE, s.comm);
        if (code != MPI_SUCCESS)
            mpi_fail(&s, "send", code);
    }
    if (!rc && s.failed)
        rc = sv_error_set(err, SV_ERR_IO, "%s", s.why);
    MPI_Comm_free(&s.comm);
    return rc;
}

#endif /* HAVE_MPI */
