//! Benchmark results as SVG line charts (`plotters`, SVG backend only: no fonts or system
//! libraries; text is left to the browser that shows the file).

use anyhow::{anyhow, Result};
use plotters::prelude::*;
use std::path::Path;

/// One line of a chart: its legend and its points.
#[derive(Debug, Clone)]
pub struct Series {
    /// The legend.
    pub name: String,
    /// (x, y) points, in x order.
    pub points: Vec<(f64, f64)>,
}

const COLOURS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
];

/// Writes `series` as a line chart with a point at every sample to `path`.
pub fn line_chart(
    path: &Path,
    title: &str,
    (x_label, y_label): (&str, &str),
    series: &[Series],
) -> Result<()> {
    let all = || series.iter().flat_map(|s| s.points.iter());
    let max = |f: fn(&(f64, f64)) -> f64| all().map(f).fold(0.0_f64, f64::max);
    let (x_max, y_max) = (max(|p| p.0), max(|p| p.1));
    if all().next().is_none() {
        return Err(anyhow!("nothing to chart"));
    }
    let x_min = all().map(|p| p.0).fold(f64::INFINITY, f64::min).min(0.0);
    let root = SVGBackend::new(path, (800, 480)).into_drawing_area();
    let e = |e: DrawingAreaErrorKind<_>| anyhow!("drawing {}: {e:?}", path.display());
    root.fill(&WHITE).map_err(e)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(x_min..x_max * 1.05, 0.0..y_max * 1.1)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .draw()
        .map_err(e)?;
    for (s, colour) in series.iter().zip(COLOURS.iter().cycle()) {
        let style = colour.stroke_width(2);
        chart
            .draw_series(LineSeries::new(s.points.iter().copied(), style))
            .map_err(e)?
            .label(s.name.clone())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], style));
        chart
            .draw_series(s.points.iter().map(|&p| Circle::new(p, 3, colour.filled())))
            .map_err(e)?;
    }
    if series.len() > 1 {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(e)?;
    }
    root.present().map_err(e)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_is_an_svg_with_its_title_labels_and_legend() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.svg");
        let series = [
            Series {
                name: "soft".into(),
                points: vec![(0.0, 0.1), (50.0, 0.2), (100.0, 0.9)],
            },
            Series {
                name: "verified".into(),
                points: vec![(0.0, 3.0), (100.0, 9.0)],
            },
        ];
        line_chart(&path, "Latency", ("percentile", "seconds"), &series).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
        for text in ["Latency", "percentile", "seconds", "soft", "verified"] {
            assert!(svg.contains(text), "{text} missing");
        }
        assert!(line_chart(&path, "none", ("x", "y"), &[]).is_err());
    }
}
