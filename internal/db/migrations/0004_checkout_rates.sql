-- Shipping methods and tax rates the demo store starts with. Both tables
-- are the shop's to edit; the US rates are state-level base rates, a
-- starting point, not tax advice.

INSERT INTO shipping_methods (market, code, name, kind, price, free_over, per_kg, days, position) VALUES
    ('us', 'standard', 'Standard shipping', 'flat', 599, 3500, 0, '3–5 business days', 1),
    ('us', 'express', 'Express shipping', 'weight', 1299, NULL, 200, '1–2 business days', 2),
    ('cn', 'standard', '标准配送 Standard', 'flat', 1000, 9900, 0, '2–4 days', 1),
    ('cn', 'express', '顺丰速运 Express', 'weight', 2300, NULL, 500, 'next day', 2),
    ('in', 'standard', 'Standard delivery', 'flat', 9900, 99900, 0, '4–7 days', 1),
    ('in', 'express', 'Express delivery', 'weight', 19900, NULL, 5000, '1–3 days', 2);

-- China and India: prices include VAT (13%) and GST (18%).
INSERT INTO tax_rates (market, region, name, rate_pcm, tax_shipping) VALUES
    ('cn', '', 'VAT', 13000, TRUE),
    ('in', '', 'GST', 18000, TRUE);

-- United States: sales tax by destination state; tax_shipping where the
-- state taxes delivery charges on a taxable sale.
INSERT INTO tax_rates (market, region, name, rate_pcm, tax_shipping) VALUES
    ('us', 'AL', 'Alabama sales tax', 4000, FALSE),
    ('us', 'AK', 'Alaska', 0, FALSE),
    ('us', 'AZ', 'Arizona sales tax', 5600, FALSE),
    ('us', 'AR', 'Arkansas sales tax', 6500, TRUE),
    ('us', 'CA', 'California sales tax', 7250, FALSE),
    ('us', 'CO', 'Colorado sales tax', 2900, FALSE),
    ('us', 'CT', 'Connecticut sales tax', 6350, TRUE),
    ('us', 'DE', 'Delaware', 0, FALSE),
    ('us', 'DC', 'District of Columbia sales tax', 6000, TRUE),
    ('us', 'FL', 'Florida sales tax', 6000, FALSE),
    ('us', 'GA', 'Georgia sales tax', 4000, TRUE),
    ('us', 'HI', 'Hawaii general excise tax', 4000, TRUE),
    ('us', 'ID', 'Idaho sales tax', 6000, FALSE),
    ('us', 'IL', 'Illinois sales tax', 6250, FALSE),
    ('us', 'IN', 'Indiana sales tax', 7000, TRUE),
    ('us', 'IA', 'Iowa sales tax', 6000, FALSE),
    ('us', 'KS', 'Kansas sales tax', 6500, TRUE),
    ('us', 'KY', 'Kentucky sales tax', 6000, TRUE),
    ('us', 'LA', 'Louisiana sales tax', 4450, FALSE),
    ('us', 'ME', 'Maine sales tax', 5500, FALSE),
    ('us', 'MD', 'Maryland sales tax', 6000, FALSE),
    ('us', 'MA', 'Massachusetts sales tax', 6250, FALSE),
    ('us', 'MI', 'Michigan sales tax', 6000, TRUE),
    ('us', 'MN', 'Minnesota sales tax', 6875, TRUE),
    ('us', 'MS', 'Mississippi sales tax', 7000, TRUE),
    ('us', 'MO', 'Missouri sales tax', 4225, FALSE),
    ('us', 'MT', 'Montana', 0, FALSE),
    ('us', 'NE', 'Nebraska sales tax', 5500, TRUE),
    ('us', 'NV', 'Nevada sales tax', 6850, FALSE),
    ('us', 'NH', 'New Hampshire', 0, FALSE),
    ('us', 'NJ', 'New Jersey sales tax', 6625, TRUE),
    ('us', 'NM', 'New Mexico gross receipts tax', 4875, TRUE),
    ('us', 'NY', 'New York sales tax', 4000, TRUE),
    ('us', 'NC', 'North Carolina sales tax', 4750, TRUE),
    ('us', 'ND', 'North Dakota sales tax', 5000, TRUE),
    ('us', 'OH', 'Ohio sales tax', 5750, TRUE),
    ('us', 'OK', 'Oklahoma sales tax', 4500, FALSE),
    ('us', 'OR', 'Oregon', 0, FALSE),
    ('us', 'PA', 'Pennsylvania sales tax', 6000, TRUE),
    ('us', 'RI', 'Rhode Island sales tax', 7000, TRUE),
    ('us', 'SC', 'South Carolina sales tax', 6000, TRUE),
    ('us', 'SD', 'South Dakota sales tax', 4200, TRUE),
    ('us', 'TN', 'Tennessee sales tax', 7000, TRUE),
    ('us', 'TX', 'Texas sales tax', 6250, TRUE),
    ('us', 'UT', 'Utah sales tax', 6100, TRUE),
    ('us', 'VT', 'Vermont sales tax', 6000, TRUE),
    ('us', 'VA', 'Virginia sales tax', 5300, FALSE),
    ('us', 'WA', 'Washington sales tax', 6500, TRUE),
    ('us', 'WV', 'West Virginia sales tax', 6000, TRUE),
    ('us', 'WI', 'Wisconsin sales tax', 5000, TRUE),
    ('us', 'WY', 'Wyoming sales tax', 4000, TRUE);
