//! Handler traits are implemented for every arity by these macros: up to
//! eight extractors followed by up to four producers.

/// Calls `$m!([extractor types], [producer names], producer count)` for every
/// supported shape of handler.
macro_rules! with_arities {
    ($m:ident) => {
        with_arities!(@producers $m []);
        with_arities!(@producers $m [T1]);
        with_arities!(@producers $m [T1, T2]);
        with_arities!(@producers $m [T1, T2, T3]);
        with_arities!(@producers $m [T1, T2, T3, T4]);
        with_arities!(@producers $m [T1, T2, T3, T4, T5]);
        with_arities!(@producers $m [T1, T2, T3, T4, T5, T6]);
        with_arities!(@producers $m [T1, T2, T3, T4, T5, T6, T7]);
        with_arities!(@producers $m [T1, T2, T3, T4, T5, T6, T7, T8]);
    };
    (@producers $m:ident [$($t:ident),*]) => {
        $m!([$($t),*], [], 0);
        $m!([$($t),*], [p1], 1);
        $m!([$($t),*], [p1, p2], 2);
        $m!([$($t),*], [p1, p2, p3], 3);
        $m!([$($t),*], [p1, p2, p3, p4], 4);
    };
}

/// The type of a producer parameter, whatever its name.
macro_rules! producer_type {
    ($p:ident) => {
        $crate::amqp::Producer
    };
}
