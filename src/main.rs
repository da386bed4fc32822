//! `registrar`: the appliance binary.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    println!("registrar {}", env!("CARGO_PKG_VERSION"));
}
