//! Criterion benches for coco (see `benches/`). Run: `cargo bench -p coco-benches`.
