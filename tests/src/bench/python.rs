//! Python binding cases.

use super::Figure;

pub fn run(_smoke: bool, figs: &mut Vec<Figure>) {
    figs.push(
        Figure::new("Python execute", "not measured", "—")
            .target_text("<= 1.2x raw httpx")
            .note("not implemented yet"),
    );
}
