//! `ferry bench ...`: the benchmarks users run.

use anyhow::{Context, Result};
use clap::Args;
use ferry_node::chart::{line_chart, Series};
use ferry_prover::bench::{run, BenchConfig, BenchRow};
use indicatif::{ProgressBar, ProgressStyle};

/// Options of `ferry bench prover`.
#[derive(Debug, Args)]
pub struct ProverArgs {
    /// Account tree depth (arity 4): 4^depth accounts.
    #[arg(long, default_value_t = 12)]
    depth: usize,
    /// Transfers per batch, comma-separated; one circuit (and one setup) per size.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8,16")]
    batch_sizes: Vec<usize>,
    /// Write the figures as JSON to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
    /// Write a chart of transfers proven per second by batch size as SVG to this file.
    #[arg(long)]
    svg: Option<std::path::PathBuf>,
    /// Skip arkworks' stock prover (re-synthesis per proof), which the table compares against.
    #[arg(long)]
    no_plain: bool,
    /// Skip timing the key's load compressed and uncompressed (both held in memory at once:
    /// minutes and gigabytes at batch 256).
    #[arg(long)]
    no_key_formats: bool,
    /// Read keys and matrices from this cache (made there when missing), as a prover process
    /// does: the memory columns are then a prover's that starts from the cache.
    #[arg(long)]
    keys_dir: Option<std::path::PathBuf>,
    /// Seed for keys, accounts and transfers.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Prove every batch once per thread count, comma-separated (e.g. 1,2,4,8,16), and print
    /// the split of the time and the speed-up over the first count; the SVG then charts the
    /// speed-up by thread count. Default: once, one thread per core.
    #[arg(long, value_delimiter = ',', value_parser = thread_count)]
    threads: Vec<usize>,
}

/// A thread count: a whole number from 1 to 1024.
fn thread_count(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n @ 1..=1024) => Ok(n),
        _ => Err(format!("`{s}` is not a thread count (1 to 1024)")),
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn print_table(rows: &[BenchRow]) {
    println!(
        "{:>5} {:>4} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7} {:>7} {:>7} {:>8} {:>9} {:>8} {:>8} {:>9} {:>8} {:>8} {:>9} {:>8}",
        "batch",
        "thr",
        "constr",
        "c/xfer",
        "synth s",
        "setup s",
        "wit s",
        "prove s",
        "qap s",
        "msm s",
        "ver ms",
        "xfer/s",
        "stock s",
        "stock/s",
        "speedup",
        "setup MiB",
        "keys MiB",
        "wit MiB",
        "prove MiB",
        "pk MiB"
    );
    for r in rows {
        let (stock, stock_tps, speedup) = match (r.plain_prove_s, r.plain_transfers_per_s) {
            (Some(s), Some(t)) => (
                format!("{s:.2}"),
                format!("{t:.2}"),
                format!("{:.2}x", r.transfers_per_s / t),
            ),
            _ => ("-".into(), "-".into(), "-".into()),
        };
        println!(
            "{:>5} {:>4} {:>9} {:>8} {:>8.2} {:>8.2} {:>8.3} {:>8.2} {:>7.2} {:>7.2} {:>7.1} {:>8.2} {:>9} {:>8} {:>8} {:>9.0} {:>8.0} {:>8.0} {:>9.0} {:>8.1}",
            r.batch_size,
            r.threads,
            r.constraints,
            r.constraints_per_transfer,
            r.synthesis_s,
            r.setup_s,
            r.witness_s,
            r.prove_s,
            r.qap_s,
            r.msm_s,
            r.verify_s * 1e3,
            r.transfers_per_s,
            stock,
            stock_tps,
            speedup,
            mib(r.setup_peak_rss_bytes),
            mib(r.keys_rss_bytes),
            mib(r.witness_peak_rss_bytes),
            mib(r.prove_peak_rss_bytes),
            mib(r.pk_bytes as u64),
        );
    }
    let last = rows.last();
    if let Some((r, bytes, load, compressed_load)) = last.and_then(|r| {
        Some((
            r,
            r.pk_compressed_bytes?,
            r.pk_load_s?,
            r.pk_compressed_load_s?,
        ))
    }) {
        println!(
            "proving key at batch {}: {:.1} MiB uncompressed (load {:.2} s) vs {:.1} MiB compressed (load {:.2} s); Ferry caches uncompressed",
            r.batch_size,
            mib(r.pk_bytes as u64),
            load,
            mib(bytes as u64),
            compressed_load
        );
    }
    if rows.iter().any(|r| r.keys_from_cache) {
        println!("keys read from the cache: synth s and setup s are the matrices' and the key's load times");
    }
    println!("setup MiB: peak RSS of synthesis and setup; keys MiB: resident after setup (keys and matrices); wit MiB: peak through the witness; prove MiB: peak through the proof (QAP, MSMs)");
    println!(
        "xfer/s = batch / (witness + prove); prove = qap (witness map, FFTs) + msm; stock = arkworks Groth16::prove on the same key; thr = threads ({} cores here)",
        cores()
    );
}

/// Where each proof's time went, and the speed-up over the first thread count.
fn print_profile(rows: &[BenchRow]) {
    println!();
    println!(
        "{:>5} {:>4} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>8} {:>8} {:>10}",
        "batch",
        "thr",
        "wit s",
        "rows s",
        "fft s",
        "pw s",
        "conv s",
        "A s",
        "B1 s",
        "B2 s",
        "L s",
        "H s",
        "total",
        "xfer/s",
        "speedup",
        "us.core/c"
    );
    for r in rows {
        let p = &r.profile;
        let total = r.witness_s + r.prove_s;
        println!(
            "{:>5} {:>4} {:>7.2} {:>7.2} {:>7.2} {:>7.2} {:>7.2} {:>7.2} {:>7.2} {:>7.2} {:>7.2} {:>7.2} {:>7.2} {:>8.2} {:>7.2}x {:>10.1}",
            r.batch_size,
            r.threads,
            r.witness_s,
            p.qap_rows_s,
            p.qap_fft_s,
            p.qap_pointwise_s,
            p.scalars_s,
            p.msm_a_s,
            p.msm_b_g1_s,
            p.msm_b_g2_s,
            p.msm_l_s,
            p.msm_h_s,
            total,
            r.transfers_per_s,
            r.speedup,
            us_core_per_constraint(r),
        );
    }
    println!("wit = witness; rows, fft, pw = the QAP step (matrices times the assignment, the seven FFTs, pointwise products); conv = scalars out of Montgomery form; A, B1, B2, L, H = the five MSMs (B2 in G2)");
    println!("speedup = xfer/s over the batch's first thread count; us.core/c = (witness + prove) x min(threads, cores) per constraint, in microseconds");
}

/// Microseconds of core time per constraint: what a proof costs on the cores it ran on.
fn us_core_per_constraint(r: &BenchRow) -> f64 {
    let cores = r.threads.min(cores()) as f64;
    (r.witness_s + r.prove_s) * cores * 1e6 / r.constraints as f64
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs `ferry bench prover`.
pub fn prover(args: &ProverArgs) -> Result<()> {
    let cfg = BenchConfig {
        depth: args.depth,
        batch_sizes: args.batch_sizes.clone(),
        plain: !args.no_plain,
        seed: args.seed,
        key_formats: !args.no_key_formats,
        keys_dir: args.keys_dir.clone(),
        threads: args.threads.clone(),
    };
    eprintln!(
        "ferry bench prover: depth {} ({} accounts), batch sizes {:?}, threads {:?} ({} cores)",
        cfg.depth,
        1u64 << (2 * cfg.depth),
        cfg.batch_sizes,
        if cfg.threads.is_empty() {
            vec![cores()]
        } else {
            cfg.threads.clone()
        },
        cores()
    );
    let pb = ProgressBar::new(0);
    pb.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} [{elapsed}]")
            .expect("static template"),
    );
    let rows = run(&cfg, &pb)?;
    print_table(&rows);
    print_profile(&rows);
    if let Some(path) = &args.json {
        let out = serde_json::json!({ "depth": cfg.depth, "cores": cores(), "rows": rows });
        std::fs::write(path, serde_json::to_string_pretty(&out)?)
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    if let Some(path) = &args.svg {
        if cfg.threads.len() > 1 {
            scaling_chart(path, cfg.depth, &rows)?;
        } else {
            throughput_chart(path, &cfg, &rows)?;
        }
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// Transfers proven per second by batch size.
fn throughput_chart(path: &std::path::Path, cfg: &BenchConfig, rows: &[BenchRow]) -> Result<()> {
    let line = |name: &str, y: fn(&BenchRow) -> Option<f64>| Series {
        name: name.into(),
        points: rows
            .iter()
            .filter_map(|r| Some((r.batch_size as f64, y(r)?)))
            .collect(),
    };
    let mut series = vec![line("Ferry", |r| Some(r.transfers_per_s))];
    if cfg.plain {
        series.push(line("arkworks' stock prover", |r| r.plain_transfers_per_s));
    }
    let threads = rows.first().map_or(cores(), |r| r.threads);
    let title = format!(
        "Transfers proven per second, depth {}, {threads} threads",
        cfg.depth
    );
    line_chart(
        path,
        &title,
        ("transfers per batch", "transfers/s"),
        &series,
    )
}

/// Speed-up over the first thread count, one line per batch size, beside the ideal.
fn scaling_chart(path: &std::path::Path, depth: usize, rows: &[BenchRow]) -> Result<()> {
    let mut series: Vec<Series> = Vec::new();
    for r in rows {
        let name = format!("batch {}", r.batch_size);
        match series.iter_mut().find(|s| s.name == name) {
            Some(s) => s.points.push((r.threads as f64, r.speedup)),
            None => series.push(Series {
                name,
                points: vec![(r.threads as f64, r.speedup)],
            }),
        }
    }
    let first = rows.first().map_or(1, |r| r.threads) as f64;
    let mut ideal: Vec<(f64, f64)> = rows
        .iter()
        .map(|r| (r.threads as f64, r.threads as f64 / first))
        .collect();
    ideal.sort_by(|a, b| a.0.total_cmp(&b.0));
    ideal.dedup();
    series.push(Series {
        name: "linear".into(),
        points: ideal,
    });
    let title = format!(
        "Prover speed-up by threads, depth {depth}, {} cores",
        cores()
    );
    line_chart(path, &title, ("threads", "speed-up"), &series)
}
