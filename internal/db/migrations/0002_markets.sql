-- The markets the store sells in, the certification schemes they require
-- and the warehouses that serve them. Reference data every store needs,
-- demo or not; staff extend it later.

INSERT INTO markets (code, name, currency, country_codes, tax_included, locale, position) VALUES
    ('us', 'United States', 'USD', 'US', FALSE, 'en-US', 1),
    ('cn', 'China', 'CNY', 'CN', TRUE, 'zh-CN', 2),
    ('in', 'India', 'INR', 'IN', TRUE, 'en-IN', 3);

INSERT INTO certification_schemes (code, name, authority) VALUES
    ('FCC', 'FCC equipment authorization', 'the Federal Communications Commission'),
    ('SRRC', 'SRRC radio type approval', 'the State Radio Regulation of China'),
    ('CCC', 'China Compulsory Certification', 'the Certification and Accreditation Administration of China'),
    ('BIS', 'BIS registration', 'the Bureau of Indian Standards');

INSERT INTO categories (slug, name, radio, position) VALUES
    ('wearables', 'Wearables', TRUE, 1),
    ('power-banks', 'Power banks', FALSE, 2),
    ('audio', 'Audio', TRUE, 3),
    ('accessories', 'Accessories', FALSE, 4),
    ('phones', 'Phones', TRUE, 5),
    ('tablets', 'Tablets', TRUE, 6);

INSERT INTO certification_rules (market, category, scheme) VALUES
    ('us', 'wearables', 'FCC'), ('us', 'audio', 'FCC'), ('us', 'phones', 'FCC'), ('us', 'tablets', 'FCC'),
    ('cn', 'wearables', 'SRRC'), ('cn', 'audio', 'SRRC'), ('cn', 'phones', 'SRRC'), ('cn', 'tablets', 'SRRC'),
    ('cn', 'phones', 'CCC'), ('cn', 'tablets', 'CCC'), ('cn', 'power-banks', 'CCC'),
    ('in', 'phones', 'BIS'), ('in', 'tablets', 'BIS'), ('in', 'power-banks', 'BIS'), ('in', 'wearables', 'BIS');

INSERT INTO warehouses (code, market, name) VALUES
    ('us-east', 'us', 'Edison, New Jersey'),
    ('us-west', 'us', 'Ontario, California'),
    ('cn-east', 'cn', 'Shanghai'),
    ('in-south', 'in', 'Bengaluru');
