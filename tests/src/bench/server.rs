//! Server cases (execute over HTTP driven by wrk, RSS).

use super::{Figure, Sizes};

pub fn run(_sizes: Sizes, _smoke: bool, figs: &mut Vec<Figure>) {
    figs.push(
        Figure::new("server execute over HTTP", "not measured", "—")
            .target_text("see docs/benchmarks.md")
            .note("not implemented yet"),
    );
}
