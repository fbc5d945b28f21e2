/* cmd_simulate.c — `stampvet simulate`: labelled stamp sets and full
 * exposures from the survey simulator (stage/sim_*.h, doc/simulation.md). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/lc_cli.h"
#include "sim/sim_exposure.h"
#include "sim/sim_stamps.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: stampvet simulate --stamps N [options] -o OUT.fits\n"
            "       stampvet simulate --exposure [options] -o PREFIX\n"
            "       stampvet simulate --lightcurves N --survey ztf|lsst -o LC.fits "
            "(see --lightcurves 1 --help)\n\n"
            "Simulated survey data with truth (physics and sources: doc/simulation.md).\n"
            "--stamps writes a labelled-stamps FITS table (the training-data layout);\n"
            "--exposure writes PREFIX_sci.fits, PREFIX_ref.fits, PREFIX_diff.fits (TAN WCS)\n"
            "and PREFIX_det.fits (ZTF-style detection table with truth columns).\n"
            "The output depends only on the options and the seed, not on --threads.\n\n"
            "common options:\n"
            "  --survey NAME        ztf (default) or ilmt\n"
            "  --band B             band (default: ztf r, ilmt i'; ztf: g r; ilmt: g' r' i')\n"
            "  --seed S             random seed (default 1)\n"
            "  --snr-min X          detection threshold |S/N| and faintest real (5)\n"
            "  --snr-max X          brightest real S/N drawn (100)\n"
            "  --snr-slope K        reals drawn from N(>S/N) ~ (S/N)^-K; 0 = log-uniform (1.5)\n"
            "  --mag-min M --mag-max M\n"
            "                       reals uniform in difference magnitude instead of S/N\n"
            "  --bogus-mix W,...    7 weights: dipole,psf_resid,cosmic_ray,hot_pixel,\n"
            "                       bad_column,saturated,noise_peak (20,20,15,10,5,10,2)\n"
            "  --threads N          worker threads (1)\n"
            "  -o, --output PATH    output file (stamps) or prefix (exposure)\n"
            "  -q, --quiet          no progress on stderr\n\n"
            "stamp sets:\n"
            "  --stamps N           number of stamp triplets\n"
            "  --scheme S           rb (bogus, real), 3class (transient, variable,\n"
            "                       asteroid), 4class (... and bogus); default rb\n"
            "  --balance W,...      class weights in the scheme's label order (equal)\n"
            "  --real-mix T,V,A     rb: transient, variable, asteroid among reals (1,1,1)\n"
            "  --stamp-size S       stamp side in pixels (63; detection at pixel S/2, 0-based)\n"
            "  --first-id N         ID of the first stamp (1)\n\n"
            "exposures:\n"
            "  --exposure           simulate a full exposure\n"
            "  --size W[xH]         image size in pixels (3072)\n"
            "  --detections N       injected detections (10000)\n"
            "  --balance T,V,A,B    transient, variable, asteroid, bogus (0.10,0.25,0.05,0.60)\n"
            "  --ra DEG --dec DEG   field centre (survey default)\n"
            "  --mask               also write PREFIX_mask.fits (artefact bits)\n");
}

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
    O_EXPOSURE, O_SIZE, O_DET, O_RA, O_DEC, O_MASK
};

int cmd_simulate(int argc, char **argv)
{
    if (lc_cli_wants(argc, argv)) /* light curves: cmd_lc.c */
        return cmd_lc_simulate(argc, argv);
    static const struct option opts[] = {
        {"survey", required_argument, NULL, O_SURVEY},
        {"band", required_argument, NULL, O_BAND},
        {"seed", required_argument, NULL, O_SEED},
        {"snr-min", required_argument, NULL, O_SNRMIN},
        {"snr-max", required_argument, NULL, O_SNRMAX},
        {"snr-slope", required_argument, NULL, O_SNRSLOPE},
        {"mag-min", required_argument, NULL, O_MAGMIN},
        {"mag-max", required_argument, NULL, O_MAGMAX},
        {"bogus-mix", required_argument, NULL, O_BOGUS},
        {"threads", required_argument, NULL, O_THREADS},
        {"stamps", required_argument, NULL, O_STAMPS},
        {"scheme", required_argument, NULL, O_SCHEME},
        {"balance", required_argument, NULL, O_BALANCE},
        {"real-mix", required_argument, NULL, O_REALMIX},
        {"stamp-size", required_argument, NULL, O_SSIZE},
        {"first-id", required_argument, NULL, O_FIRSTID},
        {"exposure", no_argument, NULL, O_EXPOSURE},
        {"size", required_argument, NULL, O_SIZE},
        {"detections", required_argument, NULL, O_DET},
        {"ra", required_argument, NULL, O_RA},
        {"dec", required_argument, NULL, O_DEC},
        {"mask", no_argument, NULL, O_MASK},
        {"output", required_argument, NULL, 'o'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    sv_sim_stamp_params sp;
    sv_sim_exposure_params ep;
    sv_sim_stamp_params_default(&sp);
    sv_sim_exposure_params_default(&ep);
    sv_sim_config cfg = sp.cfg; /* common settings, copied to both at the end */
    sv_error err;
    sv_error_clear(&err);
    const char *out = NULL, *balance = NULL, *scheme = NULL, *realmix = NULL, *bogus = NULL;
    int exposure = 0, quiet = 0, have_stamps = 0, threads = 1;
    long v;
    double d;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage(stdout);
            return 0;
        case 'o':
            out = optarg;
            break;
        case 'q':
            quiet = 1;
            break;
        case O_SURVEY:
            snprintf(cfg.survey, sizeof cfg.survey, "%s", optarg);
            break;
        case O_BAND:
            snprintf(cfg.band, sizeof cfg.band, "%s", optarg);
            break;
        case O_SEED:
            if (cli_parse_seed("simulate", optarg, &cfg.seed))
                return 2;
            break;
        case O_SNRMIN:
        case O_SNRMAX:
        case O_SNRSLOPE:
        case O_MAGMIN:
        case O_MAGMAX:
        case O_RA:
        case O_DEC:
            if (parse_double(optarg, &d))
                return cli_fail("simulate", "%s '%s': not a number", argv[optind - 1], optarg), 2;
            if (c == O_SNRMIN)
                cfg.snr_min = d;
            else if (c == O_SNRMAX)
                cfg.snr_max = d;
            else if (c == O_SNRSLOPE)
                cfg.snr_slope = d;
            else if (c == O_MAGMIN)
                cfg.mag_min = d;
            else if (c == O_MAGMAX)
                cfg.mag_max = d;
            else if (c == O_RA)
                ep.ra0 = d;
            else
                ep.dec0 = d;
            break;
        case O_BOGUS:
            bogus = optarg;
            break;
        case O_THREADS:
        case O_STAMPS:
        case O_SSIZE:
        case O_FIRSTID:
        case O_DET:
            if (parse_long(optarg, &v))
                return cli_fail("simulate", "%s '%s': not an integer", argv[optind - 1], optarg), 2;
            if (c == O_THREADS) {
                if (v < 1 || v > 64)
                    return cli_fail("simulate", "--threads %ld: 1..64", v), 2;
                threads = (int)v;
            } else if (c == O_STAMPS) {
                sp.n = v;
                have_stamps = 1;
            } else if (c == O_SSIZE) {
                if (v < 8 || v > 1024)
                    return cli_fail("simulate", "--stamp-size %ld: 8..1024", v), 2;
                sp.stamp_size = (int)v;
            } else if (c == O_FIRSTID)
                sp.first_id = v;
            else
                ep.n_det = v;
            break;
        case O_SCHEME:
            scheme = optarg;
            break;
        case O_BALANCE:
            balance = optarg;
            break;
        case O_REALMIX:
            realmix = optarg;
            break;
        case O_EXPOSURE:
            exposure = 1;
            break;
        case O_SIZE: {
            char *end;
            long w = strtol(optarg, &end, 10), h = w;
            if (end != optarg && (*end == 'x' || *end == 'X')) {
                char *e2;
                h = strtol(end + 1, &e2, 10);
                end = e2;
            }
            if (end == optarg || *end || w < 64 || h < 64 || w > 65536 || h > 65536)
                return cli_fail("simulate", "--size '%s': W or WxH, 64..65536", optarg), 2;
            ep.width = (int)w;
            ep.height = (int)h;
            break;
        }
        case O_MASK:
            ep.with_mask = 1;
            break;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc)
        return cli_fail("simulate", "unexpected argument '%s'", argv[optind]), 2;
    if (exposure == have_stamps)
        return cli_fail("simulate", "give exactly one of --stamps N and --exposure"), 2;
    if (!out)
        return cli_fail("simulate", "no output: -o %s", exposure ? "PREFIX" : "OUT.fits"), 2;
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
