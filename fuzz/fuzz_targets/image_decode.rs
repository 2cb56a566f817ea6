//! Arbitrary bytes as an uploaded image through `ImagePreprocess::tensor`: the decoder every
//! stored upload passes through before a model sees it. Properties: never panics and stays
//! under libFuzzer's RSS limit (the declared size is checked before pixel memory exists); an
//! error is `image_too_large` exactly when the header declares more than the limits allow and
//! `image_decode` otherwise; a success has the input shape's element count, every value finite.
#![no_main]

use airlock::{ChannelOrder, DecodeLimits, ErrorCode, ImagePreprocess, Layout};
use libfuzzer_sys::fuzz_target;

const LIMITS: DecodeLimits = DecodeLimits { max_width: 1024, max_height: 1024, max_pixels: 256 * 1024 };

fuzz_target!(|data: &[u8]| {
    // The first byte picks a preprocessing, so every configuration shares one corpus.
    let Some((&pick, image)) = data.split_first() else { return };
    let pre = match pick % 3 {
        0 => ImagePreprocess::new(16, 16),
        1 => ImagePreprocess::new(8, 4).channels(ChannelOrder::Gray).layout(Layout::Flat),
        _ => ImagePreprocess::new(5, 7)
            .channels(ChannelOrder::Bgr)
            .layout(Layout::Nchw)
            .mean([104.0, 117.0, 123.0])
            .pixel_scale(1.0 / 255.0),
    }
    .limits(LIMITS);
    match pre.tensor(image) {
        Ok(tensor) => {
            assert_eq!(tensor.len(), pre.input_shape().iter().product::<usize>());
            assert!(tensor.iter().all(|v| v.is_finite()));
        }
        Err(e) => {
            let code = e.code();
            assert!(matches!(code, ErrorCode::ImageDecode | ErrorCode::ImageTooLarge), "{code:?}: {e}");
            if let airlock::Error::ImageTooLarge { width, height } = e {
                assert!(
                    width > LIMITS.max_width
                        || height > LIMITS.max_height
                        || u64::from(width) * u64::from(height) > LIMITS.max_pixels,
                    "{width}x{height} is within the limits"
                );
            }
        }
    }
});
