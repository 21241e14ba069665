//! `ferry bench prover`'s engine at a tiny shape: one row per size, every proof verified (the
//! run asserts it), both proving phases reported, and the stock prover measured beside it.

use ferry_prover::bench::{run, BenchConfig};
use indicatif::ProgressBar;

#[test]
fn one_row_per_size_with_both_phases_and_the_stock_prover() {
    let cfg = BenchConfig {
        depth: 2,
        batch_sizes: vec![1, 2],
        plain: true,
        seed: 5,
        key_formats: true,
        keys_dir: None,
        threads: Vec::new(),
    };
    let rows = run(&cfg, &ProgressBar::hidden()).unwrap();
    assert_eq!(
        rows.iter().map(|r| r.batch_size).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert!(rows[1].constraints > rows[0].constraints);
    for r in &rows {
        assert!(r.qap_s > 0.0 && r.msm_s > 0.0, "{r:?}");
        assert!(r.plain_prove_s.is_some(), "the stock prover ran");
        assert!(r.pk_bytes > r.pk_compressed_bytes.unwrap());
        assert!(r.synthesis_s > 0.0 && r.setup_s > 0.0, "{r:?}");
        let json = serde_json::to_value(r).unwrap();
        assert!(json["msm_s"].as_f64().is_some() && json["qap_s"].as_f64().is_some());
    }
}
