package store

// schemaRotaLead (version 26) indexes the cases the rota gave a fix lead. Opening a case
// reads the newest of them (cases.OpenCase: the rota goes on after its
// lead); without the index SQLite reads back through the cases from the
// newest, every case opened since the rota last gave a lead, and all of
// them for every new case while it gives none (every member away, or no
// usable key). The index holds only those cases, newest last, with the
// lead: the read is its last entry.
const schemaRotaLead = `
CREATE INDEX cases_rota_lead ON cases (id, rota_lead) WHERE rota_lead != '';
`
