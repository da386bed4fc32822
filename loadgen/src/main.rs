//! `loadgen`: the bundled load generator. The scenarios land with issue 4; for now the binary
//! only states that, so the workspace layout is in place.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    eprintln!("loadgen: no scenarios yet (see docs/performance.md once issue 4 lands)");
    std::process::exit(2);
}
