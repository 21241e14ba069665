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
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn print_table(rows: &[BenchRow]) {
    println!(
        "{:>5} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7} {:>7} {:>7} {:>8} {:>9} {:>8} {:>8} {:>9} {:>8} {:>8} {:>9} {:>8}",
        "batch",
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
            "{:>5} {:>9} {:>8} {:>8.2} {:>8.2} {:>8.3} {:>8.2} {:>7.2} {:>7.2} {:>7.1} {:>8.2} {:>9} {:>8} {:>8} {:>9.0} {:>8.0} {:>8.0} {:>9.0} {:>8.1}",
            r.batch_size,
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
        "xfer/s = batch / (witness + prove); prove = qap (witness map, FFTs) + msm; stock = arkworks Groth16::prove on the same key; {} threads",
        rayon_threads()
    );
}

fn rayon_threads() -> usize {
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
    };
    eprintln!(
        "ferry bench prover: depth {} ({} accounts), batch sizes {:?}",
        cfg.depth,
        1u64 << (2 * cfg.depth),
        cfg.batch_sizes
    );
    let pb = ProgressBar::new(0);
    pb.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} [{elapsed}]")
            .expect("static template"),
    );
    let rows = run(&cfg, &pb)?;
    print_table(&rows);
    if let Some(path) = &args.json {
        let out =
            serde_json::json!({ "depth": cfg.depth, "threads": rayon_threads(), "rows": rows });
        std::fs::write(path, serde_json::to_string_pretty(&out)?)
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    if let Some(path) = &args.svg {
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
        let title = format!(
            "Transfers proven per second, depth {}, {} threads",
            cfg.depth,
            rayon_threads()
        );
        line_chart(
            path,
            &title,
            ("transfers per batch", "transfers/s"),
            &series,
        )?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
