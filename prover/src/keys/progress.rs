//! The setup's progress: a bar on a terminal, lines in a log.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// A bar over `len` units of setup work, hidden when `quiet`.
pub(super) fn progress(title: String, len: u64, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template(
            "{prefix}: {msg:<12} [{bar:30}] {percent:>3}% {elapsed} (eta {eta})",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    pb.set_prefix(title.clone());
    pb.enable_steady_tick(Duration::from_millis(200));
    if !std::io::stderr().is_terminal() {
        log_progress(&pb, title);
    }
    pb
}

/// Where stderr is not a terminal (a log file, a pipe, a service), the bar draws nothing:
/// a line at each tenth of the work says instead how far the setup is, for as long as the
/// bar lives.
fn log_progress(pb: &ProgressBar, title: String) {
    eprintln!("{title}:   0%");
    let weak = pb.downgrade();
    let started = Instant::now();
    std::thread::spawn(move || {
        let mut said = 0;
        while let Some(pb) = weak.upgrade() {
            let len = pb.length().unwrap_or(0).max(1);
            let tenth = pb.position().min(len) * 10 / len;
            if tenth > said && !pb.is_finished() {
                eprintln!(
                    "{title}: {:>3}% {} ({:.0} s)",
                    tenth * 10,
                    pb.message(),
                    started.elapsed().as_secs_f64()
                );
                said = tenth;
            }
            drop(pb);
            std::thread::sleep(Duration::from_millis(250));
        }
    });
}
