# Reference values for tests/unit/test_stats_funnel_compatibility.py, from FunnelPlotR itself.
#
# Why: the compatibility options of mhdeaths.stats.funnel() must reproduce FunnelPlotR's numbers,
# and its own tests print few of them. This runs FunnelPlotR's code on its test dataset and on two
# made to reach what six units cannot, and prints phi, tau2 and every per-unit limit and flag.
#
# Needs R (Debian: r-base-core, r-cran-rlang) and FunnelPlotR's R/ folder at commit
# 9020d4972873d863e10b8a16555975f0e322adfc (version 0.6.0). Its plotting needs ggplot2 >= 3.5.2,
# so the R files are sourced rather than installed, with the drawing stubbed out; every number
# comes from FunnelPlotR's own functions.
#
#   Rscript benchmarks/funnelplotr_reference.R /path/to/FunnelPlotR/R
args <- commandArgs(trailingOnly = TRUE)
suppressMessages(library(rlang))
for (f in c("aggregate_func.R", "od_adjustment.R", "calculate_limits.R", "build_limits_lookup.R",
            "outliers_func.R", "funnel_plot.R", "classes_methods.R")) source(file.path(args[1], f))
draw_plot <- function(...) NULL
validate_funnel_plot <- function(x) invisible(x)

A <- data.frame(num=c(27, 56, 22, 2, 0, 23, 60, 54, 19, 86, 54, 29, 31, 36, 45, 35, 35, 31, 84, 49, 5, 8, 80),
 den=c(35.3692, 74.2919, 24.088, 7.6237, 2.3456, 58.3003, 63.1343, 44.4799, 26.9982, 73.5589, 74.4618, 36.6121, 34.5463, 50.2199, 57.9482, 50.7491, 36.3381, 37.0262, 52.7416, 73.6755, 6.6927, 9.9026, 61.6388))
A$group <- factor(sprintf("u%02d", seq_len(nrow(A))))
B <- data.frame(num=c(166, 83, 163, 179, 178, 69, 56, 40, 57, 132, 74, 105),
 den=c(164.6, 88.885, 165.834, 185.691, 177.34, 71.544, 55.071, 37.927, 59.437, 129.325, 75.571, 105.532))
B$group <- factor(sprintf("u%02d", seq_len(nrow(B))))
dump <- function(res, name) {
  d <- res$aggregated_data
  cat(sprintf("## %s phi=%.17g tau2=%.17g draw_adjusted=%s\n", name, res$phi, res$tau2, res$draw_adjusted))
  for (c in c("LCL95","UCL95","LCL99","UCL99","OD95LCL","OD95UCL","OD99LCL","OD99UCL")) cat(c, "=", paste(sprintf("%.17g", d[[c]]), collapse=", "), "\n")
  cat("outlier =", paste(d$outlier, collapse=", "), "\n")
}
dump(funnel_plot(A, num, den, group), "A SHMI limit 99")
dump(funnel_plot(A, num, den, group, sr_method="CQC", limit=95), "A CQC limit 95")
dump(funnel_plot(A, num, den, group, draw_adjusted=FALSE, limit=95), "A unadjusted limit 95")
dump(funnel_plot(B, num, den, group), "B SHMI limit 99")
dump(funnel_plot(B, num, den, group, sr_method="CQC", limit=95), "B CQC limit 95")
dt <- data.frame(num = c(100, 150, 180, 80, 120, 225), denom = c(108, 112, 165, 95, 100, 220), group = factor(c("a","b","c","d","e","f")))
dump(funnel_plot(dt, num, denom, group), "T a: SHMI limit 99")
dump(funnel_plot(dt, num, denom, group, draw_adjusted=FALSE, multiplier=100, limit=95), "T b: unadjusted 95 x100")
dump(funnel_plot(dt, num, denom, group, draw_adjusted=TRUE, sr_method="CQC", trim_by=0.05, multiplier=100, limit=95), "T c: CQC trim .05 95 x100")

# Fewer than 10 units with O = 0: log(0) = -Inf survives truncation, so phi = tau2 = Inf.
Z <- data.frame(num = c(0, 5, 9, 12), den = c(3.2, 6, 8, 10), group = factor(c("a", "b", "c", "d")))
dump(funnel_plot(Z, num, den, group), "Z SHMI limit 99")
cat(R.version.string, "\n")
