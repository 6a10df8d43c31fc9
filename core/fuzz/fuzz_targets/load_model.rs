//! Fuzzes the model-file loader: any byte string must load or return a typed error, never panic,
//! hang or allocate beyond the input's size.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(model) = beeline::modelfile::ModelFile::from_bytes(data) {
        // A file that loads must serialise again and load to the same model.
        let bytes = model.to_bytes(None).expect("a loaded model re-serialises");
        let again = beeline::modelfile::ModelFile::from_bytes(&bytes).expect("re-serialised model loads");
        assert_eq!(again, model);
    }
    let _ = beeline::modelfile::inspect(data);
});
