SELECT refreshed_through FROM rollup_watermark;
