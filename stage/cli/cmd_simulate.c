/* cmd_simulate.c — `stampvet simulate`: labelled stamp sets and full
 * exposures from the survey simulator (stage/sim_*.h, doc/simulation.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_opts.h"
#include "cli/commands.h"
#include "cli/lc_cli.h"
#include "sim/sim_exposure.h"
#include "sim/sim_stamps.h"

static void progress(long done, long total, void *user)
{
    double t0 = *(double *)user;
    fprintf(stderr, "\rsimulate: %ld / %ld stamps (%.1f s)", done, total, cli_seconds() - t0);
    if (done == total)
        fputc('\n', stderr);
}

static int parse_double(const char *s, double *v)
{
    char *end;
    *v = strtod(s, &end);
    return end != s && !*end && isfinite(*v) ? 0 : -1;
}

static int parse_long(const char *s, long *v)
{
    char *end;
    *v = strtol(s, &end, 10);
    return end != s && !*end ? 0 : -1;
}

enum {
    O_SURVEY = 256, O_BAND, O_SEED, O_SNRMIN, O_SNRMAX, O_SNRSLOPE, O_MAGMIN, O_MAGMAX,
    O_BOGUS, O_THREADS, O_STAMPS, O_SCHEME, O_BALANCE, O_REALMIX, O_SSIZE, O_FIRSTID,
    O_EXPOSURE, O_SIZE, O_DET, O_RA, O_DEC, O_MASK, O_LC
};

static const cli_opt simulate_opts[] = {
    {"simulation", 0, NULL, NULL},
    {"survey", O_SURVEY, "NAME", "ztf (default) or ilmt"},
    {"band", O_BAND, "B", "band (default: ztf r, ilmt i'; ztf: g r; ilmt: g' r' i'); stamp sets: a list, g,r = a band per stamp"},
    {"seed", O_SEED, "S", "random seed (default 1)"},
    {"snr-min", O_SNRMIN, "X", "detection threshold |S/N| and faintest real (5)"},
    {"snr-max", O_SNRMAX, "X", "brightest real S/N drawn (100)"},
    {"snr-slope", O_SNRSLOPE, "K", "reals drawn from N(>S/N) ~ (S/N)^-K; 0 = log-uniform\n"
                                   "(1.5)"},
    {"mag-min", O_MAGMIN, "M", "with --mag-max: reals uniform in difference magnitude\n"
                               "instead of S/N"},
    {"mag-max", O_MAGMAX, "M", "(see --mag-min)"},
    {"bogus-mix", O_BOGUS, "W,...", "7 weights: dipole,psf_resid,cosmic_ray,hot_pixel,\n"
                                    "bad_column,saturated,noise_peak (20,20,15,10,5,10,2)"},
    {"threads", O_THREADS, "N", "worker threads, in [1, 64] (1)"},
    {"stamp sets", 0, NULL, NULL},
    {"stamps", O_STAMPS, "N", "number of stamp triplets"},
    {"scheme", O_SCHEME, "S", "rb (bogus, real), 3class (transient, variable,\n"
                              "asteroid), 4class (... and bogus); default rb"},
    {"balance", O_BALANCE, "W,...", "class weights in the scheme's label order (equal);\n"
                                    "exposures: transient, variable, asteroid, bogus\n"
                                    "(0.10,0.25,0.05,0.60)"},
    {"real-mix", O_REALMIX, "T,V,A", "rb: transient, variable, asteroid among reals\n"
                                     "(1,1,1)"},
    {"stamp-size", O_SSIZE, "S", "stamp side in pixels, in [8, 1024] (63; detection at\n"
                                 "pixel S/2, 0-based)"},
    {"first-id", O_FIRSTID, "N", "ID of the first stamp (1)"},
    {"exposures", 0, NULL, NULL},
    {"exposure", O_EXPOSURE, NULL, "simulate a full exposure"},
    {"size", O_SIZE, "W[xH]", "image size in pixels, each in [64, 65536] (3072)"},
    {"detections", O_DET, "N", "injected detections (10000)"},
    {"ra", O_RA, "DEG", "field centre (survey default)"},
    {"dec", O_DEC, "DEG", "field centre (survey default)"},
    {"mask", O_MASK, NULL, "also write PREFIX_mask.fits (artefact bits)"},
    {"light curves", 0, NULL, NULL},
    {"lightcurves", O_LC, "N", "simulated light curves instead (see stampvet simulate\n"
                               "--lightcurves 1 --help)"},
    {NULL, 0, NULL, NULL},
};

static const cli_cmd simulate_cmd = {
    "simulate",
    "stampvet simulate --stamps N [options] -o OUT.fits\n"
    "stampvet simulate --exposure [options] -o PREFIX\n"
    "stampvet simulate --lightcurves N --survey ztf|lsst -o LC.fits (see --lightcurves 1 "
    "--help)",
    "Simulated survey data with truth (physics and sources: doc/simulation.md).\n"
    "--stamps writes a labelled-stamps FITS table (the training-data layout);\n"
    "--exposure writes PREFIX_sci.fits, PREFIX_ref.fits, PREFIX_diff.fits (TAN WCS)\n"
    "and PREFIX_det.fits (ZTF-style detection table with truth columns).\n"
    "The output depends only on the options and the seed, not on --threads.",
    simulate_opts,
    "output file (stamps) or prefix (exposure); required",
    "-q: no progress on stderr (the 'wrote' line stays on stdout)."};

typedef struct sim_args {
    sv_sim_stamp_params sp;
    sv_sim_exposure_params ep;
    sv_sim_config cfg;
    const char *balance, *scheme, *realmix, *bogus;
    int exposure, have_stamps, threads;
} sim_args;

static int sim_option(void *user, int c, const char *arg)
{
    sim_args *a = user;
    sv_sim_config *cfg = &a->cfg;
    long v;
    double d;
    switch (c) {
    case O_SURVEY: snprintf(cfg->survey, sizeof cfg->survey, "%s", arg); return 0;
    case O_BAND: snprintf(cfg->band, sizeof cfg->band, "%s", arg); return 0;
    case O_SEED: return cli_parse_seed("simulate", arg, &cfg->seed) ? CLI_USAGE : 0;
    case O_SNRMIN:
    case O_SNRMAX:
    case O_SNRSLOPE:
    case O_MAGMIN:
    case O_MAGMAX:
    case O_RA:
    case O_DEC:
        if (parse_double(arg, &d))
            return cli_usage_error("simulate", "%s '%s': not a number",
                                   c == O_SNRMIN     ? "--snr-min"
                                   : c == O_SNRMAX   ? "--snr-max"
                                   : c == O_SNRSLOPE ? "--snr-slope"
                                   : c == O_MAGMIN   ? "--mag-min"
                                   : c == O_MAGMAX   ? "--mag-max"
                                   : c == O_RA       ? "--ra"
                                                     : "--dec",
                                   arg);
        if (c == O_SNRMIN)
            cfg->snr_min = d;
        else if (c == O_SNRMAX)
            cfg->snr_max = d;
        else if (c == O_SNRSLOPE)
            cfg->snr_slope = d;
        else if (c == O_MAGMIN)
            cfg->mag_min = d;
        else if (c == O_MAGMAX)
            cfg->mag_max = d;
        else if (c == O_RA)
            a->ep.ra0 = d;
        else
            a->ep.dec0 = d;
        return 0;
    case O_BOGUS: a->bogus = arg; return 0;
    case O_THREADS:
        if (cli_parse_long("simulate", "threads", arg, 1, 64, &v))
            return CLI_USAGE;
        a->threads = (int)v;
        return 0;
    case O_SSIZE:
        if (cli_parse_long("simulate", "stamp-size", arg, 8, 1024, &v))
            return CLI_USAGE;
        a->sp.stamp_size = (int)v;
        return 0;
    case O_STAMPS:
    case O_FIRSTID:
    case O_DET:
        if (parse_long(arg, &v))
            return cli_usage_error("simulate", "%s '%s': not an integer",
                                   c == O_STAMPS ? "--stamps" : c == O_FIRSTID ? "--first-id"
                                                                                : "--detections",
                                   arg);
        if (c == O_STAMPS) {
            a->sp.n = v;
            a->have_stamps = 1;
        } else if (c == O_FIRSTID)
            a->sp.first_id = v;
        else
            a->ep.n_det = v;
        return 0;
    case O_SCHEME: a->scheme = arg; return 0;
    case O_BALANCE: a->balance = arg; return 0;
    case O_REALMIX: a->realmix = arg; return 0;
    case O_EXPOSURE: a->exposure = 1; return 0;
    case O_SIZE: {
        char *end;
        long w = strtol(arg, &end, 10), h = w;
        if (end != arg && (*end == 'x' || *end == 'X')) {
            char *e2;
            h = strtol(end + 1, &e2, 10);
            end = e2;
        }
        if (end == arg || *end || w < 64 || h < 64 || w > 65536 || h > 65536)
            return cli_usage_error("simulate", "--size: '%s' is not W or WxH in [64, 65536]",
                                   arg);
        a->ep.width = (int)w;
        a->ep.height = (int)h;
        return 0;
    }
    case O_MASK: a->ep.with_mask = 1; return 0;
    default: return CLI_USAGE; /* O_LC: cmd_lc_simulate's */
    }
}

int cmd_simulate(int argc, char **argv)
{
    if (lc_cli_wants(argc, argv)) /* light curves: cmd_lc.c */
        return cmd_lc_simulate(argc, argv);
    sim_args a;
    memset(&a, 0, sizeof a);
    sv_sim_stamp_params_default(&a.sp);
    sv_sim_exposure_params_default(&a.ep);
    a.cfg = a.sp.cfg; /* common settings, copied to both at the end */
    a.threads = 1;
    cli_common com = {0};
    int first = 0;
    int pst = cli_parse(&simulate_cmd, argc, argv, &com, sim_option, &a, &first);
    if (pst >= 0)
        return pst;
    sv_sim_stamp_params sp = a.sp;
    sv_sim_exposure_params ep = a.ep;
    sv_sim_config cfg = a.cfg;
    sv_error err;
    sv_error_clear(&err);
    const char *out = com.output, *balance = a.balance, *scheme = a.scheme;
    const char *realmix = a.realmix, *bogus = a.bogus;
    int exposure = a.exposure, quiet = com.quiet, have_stamps = a.have_stamps;
    int threads = a.threads;
    if (first < argc)
        return cli_usage_error("simulate", "unexpected argument '%s'", argv[first]);
    if (exposure == have_stamps)
        return cli_usage_error("simulate", "give exactly one of --stamps N and --exposure");
    if (!out)
        return cli_usage_error("simulate", "no output: -o %s", exposure ? "PREFIX" : "OUT.fits");
    if (bogus && sv_sim_parse_weights(bogus, cfg.bogus_weight, SV_SIM_NBOGUS, "--bogus-mix", &err))
        return cli_fail("simulate", "%s", err.text), 2;

    double t0 = cli_seconds();
    if (!exposure) {
        if (scheme && sv_sim_scheme_parse(scheme, &sp.scheme, &err))
            return cli_fail("simulate", "%s", err.text), 2;
        const char *names[SV_SIM_NCLASS];
        int nc = sv_sim_scheme_classes(sp.scheme, names);
        if (balance && sv_sim_parse_weights(balance, sp.balance, nc, "--balance", &err))
            return cli_fail("simulate", "%s (scheme %s: %d classes)", err.text,
                            sv_sim_scheme_name(sp.scheme), nc), 2;
        if (realmix && sv_sim_parse_weights(realmix, sp.real_mix, 3, "--real-mix", &err))
            return cli_fail("simulate", "%s", err.text), 2;
        sp.cfg = cfg;
        sp.threads = threads;
        if (!quiet) {
            sp.progress = progress;
            sp.user = &t0;
        }
        if (sv_sim_stamp_params_check(&sp, &err))
            return cli_fail("simulate", "%s", err.text), 2;
        if (sv_sim_stamps_write(&sp, out, &err))
            return cli_fail("simulate", "%s", err.text);
        printf("wrote %ld stamps (%dx%d, scheme %s, survey %s) to %s in %.1f s\n", sp.n,
               sp.stamp_size, sp.stamp_size, sv_sim_scheme_name(sp.scheme), cfg.survey, out,
               cli_seconds() - t0);
        return 0;
    }
    if (scheme || realmix)
        return cli_fail("simulate", "--scheme and --real-mix are for --stamps; an exposure "
                                    "takes --balance T,V,A,B"), 2;
    if (balance && sv_sim_parse_weights(balance, cfg.class_weight, SV_SIM_NCLASS, "--balance", &err))
        return cli_fail("simulate", "%s", err.text), 2;
    if (!balance)
        memcpy(cfg.class_weight, ep.cfg.class_weight, sizeof cfg.class_weight);
    ep.cfg = cfg;
    ep.threads = threads;
    if (sv_sim_exposure_params_check(&ep, &err))
        return cli_fail("simulate", "%s", err.text), 2;
    sv_sim_exposure e;
    if (sv_sim_exposure_make(&ep, &e, &err))
        return cli_fail("simulate", "%s", err.text);
    double t1 = cli_seconds();
    if (!quiet)
        fprintf(stderr, "simulate: %dx%d exposure with %ld detections made in %.1f s\n", e.w,
                e.h, e.n_det, t1 - t0);
    int rc = sv_sim_exposure_write(&e, out, &err);
    double t2 = cli_seconds();
    if (rc) {
        sv_sim_exposure_free(&e);
        return cli_fail("simulate", "%s", err.text);
    }
    printf("wrote %s_sci.fits %s_ref.fits %s_diff.fits %s_det.fits%s%s%s "
           "(%s %s, %dx%d, %ld detections, seeing %.2f\" / ref %.2f\") "
           "in %.1f s (simulate %.1f s, write %.1f s)\n",
           out, out, out, out, e.mask ? " " : "", e.mask ? out : "", e.mask ? "_mask.fits" : "",
           e.survey, e.band, e.w, e.h, e.n_det, e.cond.seeing_sci, e.cond.seeing_ref, t2 - t0,
           t1 - t0, t2 - t1);
    sv_sim_exposure_free(&e);
    return 0;
}
