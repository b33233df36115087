package ai_test

import (
	"fmt"
	"strings"
)

// The retrieval quality corpus: what a person keeps in a planning app.
// Sources come in families of look-alikes (a dozen trips, a dozen recipes,
// a dozen invoices), so that finding the right one is a matter of ranking,
// not of topic. Every question names the one source whose passage answers
// it. Questions are written the way people ask: some name a rare thing
// (a code, a surname, a place), some use other forms of the note's words
// ("vaccinations" for "vaccination", "renovating" for "renovation") and
// some do both.

type qSource struct {
	key      string // label used by the questions
	title    string
	doc      bool // an uploaded document rather than a note
	markdown bool
	text     []string // paragraphs
}

type qQuestion struct {
	q    string
	key  string // the source that answers it
	kind qKind
}

// qKind tells how a question is written.
type qKind int

const (
	asWritten  qKind = iota
	typed            // without diacritics or with a typo
	paraphrase       // in other words than the source's (quality_paraphrase_test.go)
)

func (k qKind) String() string {
	return [...]string{"as written", "typed", "paraphrase"}[k]
}

type corpus struct {
	sources   []qSource
	questions []qQuestion
}

func (c *corpus) add(s qSource, qs ...string) {
	c.sources = append(c.sources, s)
	for _, q := range qs {
		c.questions = append(c.questions, qQuestion{q: q, key: s.key})
	}
}

func buildCorpus() *corpus {
	c := &corpus{}

	// Trips: same shape, different places, airlines, hotels, codes.
	trips := []struct{ city, airline, hotel, code, sight, item string }{
		{"Ljubljana", "Adria Connect", "Hotel Cubo", "LJU-7731", "the dragon bridge", "rain jacket"},
		{"Porto", "TAP Air", "Casa do Rio", "OPO-2290", "the Livraria Lello bookshop", "walking shoes"},
		{"Kraków", "LOT Polish", "Hotel Wawel Garden", "KRK-5521", "the Wieliczka salt mine", "warm scarf"},
		{"Tbilisi", "Georgian Airways", "Fabrika Hostel", "TBS-0418", "the sulphur baths", "swimsuit"},
		{"Bergen", "Widerøe", "Bryggen Lodge", "BGO-6604", "the Fløibanen funicular", "wool socks"},
		{"Valletta", "KM Malta", "Palazzo Consiglia", "MLA-3387", "the Upper Barrakka gardens", "sunscreen"},
		{"Sarajevo", "Air Serbia", "Hotel Latinski Most", "SJJ-1945", "the Baščaršija bazaar", "camera charger"},
		{"Trondheim", "Norwegian", "Britannia Annex", "TRD-8812", "the Nidaros cathedral", "hiking poles"},
		{"Palermo", "ITA Airways", "Palazzo Sambuca", "PMO-4450", "the Ballarò market", "linen shirt"},
		{"Tallinn", "airBaltic", "Old Town Maestro", "TLL-2716", "the Kadriorg palace", "travel adapter"},
		{"Seville", "Vueling", "Casa Alfarería", "SVQ-6039", "the Alcázar palace", "fan"},
		{"Ghent", "Brussels Airlines", "Pand Hotel", "GNT-3158", "the Gravensteen castle", "umbrella"},
	}
	for i, t := range trips {
		key := "trip-" + t.code
		c.add(qSource{key: key, title: "Trip to " + t.city, text: []string{
			fmt.Sprintf("Flights to %s are booked with %s, leaving on the %d of %s in the morning.", t.city, t.airline, 3+i, month(i)),
			fmt.Sprintf("The hotel is %s; the booking reference is %s and check-in opens at three.", t.hotel, t.code),
			fmt.Sprintf("Must see %s on the second day. Do not forget the %s.", t.sight, t.item),
		}},
			fmt.Sprintf("what is the booking reference of my hotel in %s", t.city),
			fmt.Sprintf("which airline am I flying with to %s", t.city),
		)
	}
	c.questions = append(c.questions,
		qQuestion{q: "when do we visit the salt mines", key: "trip-KRK-5521"},
		qQuestion{q: "reminder to pack hiking pole", key: "trip-TRD-8812"},
		qQuestion{q: "booking TBS-0418", key: "trip-TBS-0418"},
	)

	// Recipes.
	recipes := []struct{ dish, key, temp, mins, tip, spice string }{
		{"Plum cake", "plumcake", "180", "45", "halve the plums and lay them skin down", "cinnamon"},
		{"Banana bread", "bananabread", "175", "60", "use very ripe, almost black bananas", "nutmeg"},
		{"Shakshuka", "shakshuka", "200", "12", "crack the eggs into wells in the sauce", "cumin"},
		{"Focaccia", "focaccia", "220", "25", "dimple the dough with oiled fingers", "rosemary"},
		{"Lentil dal", "dal", "0", "35", "temper the mustard seeds in hot ghee last", "turmeric"},
		{"Apple crumble", "crumble", "190", "40", "keep the butter cold for a crisp topping", "cardamom"},
		{"Moussaka", "moussaka", "180", "50", "salt the aubergine slices and let them sweat", "allspice"},
		{"Pierogi", "pierogi", "0", "8", "pinch the edges twice so they do not burst", "marjoram"},
		{"Khachapuri", "khachapuri", "250", "15", "add the egg yolk only for the last two minutes", "fenugreek"},
		{"Carrot soup", "carrotsoup", "0", "30", "roast the carrots first for a deeper taste", "ginger"},
		{"Granola", "granola", "160", "30", "stir every ten minutes so the edges do not burn", "vanilla"},
		{"Ratatouille", "ratatouille", "190", "55", "cook each vegetable separately before layering", "thyme"},
	}
	for _, r := range recipes {
		method := fmt.Sprintf("Bake at %s degrees for %s minutes.", r.temp, r.mins)
		if r.temp == "0" {
			method = fmt.Sprintf("Simmer gently for %s minutes.", r.mins)
		}
		c.add(qSource{key: "recipe-" + r.key, title: r.dish, text: []string{
			fmt.Sprintf("%s the way grandma made it, seasoned with %s.", r.dish, r.spice),
			method,
			"Tip: " + r.tip + ".",
		}},
			fmt.Sprintf("how long does the %s need", strings.ToLower(r.dish)),
		)
	}
	c.questions = append(c.questions,
		qQuestion{q: "which recipe uses fenugreek", key: "recipe-khachapuri"},
		qQuestion{q: "tempering mustard seed in ghee", key: "recipe-dal"},
		qQuestion{q: "sweating aubergines with salt", key: "recipe-moussaka"},
		qQuestion{q: "dimpling dough", key: "recipe-focaccia"},
	)

	// Home repairs.
	repairs := []struct{ key, title, who, phone, what, cost string }{
		{"bathroom", "Bathroom renovation", "Kowalczyk Plumbing", "0176 2231 880", "replace the leaking shower tray and regrout the tiles", "2,400 euros"},
		{"kitchen", "Kitchen electrics", "Brightwire Electricians", "0151 4490 112", "add two sockets above the worktop and move the oven circuit", "650 euros"},
		{"roof", "Roof gutters", "Hollis Roofing", "0160 7720 319", "clear the gutters and fix the downpipe at the back", "280 euros"},
		{"boiler", "Boiler service", "Thermaflux Heating", "0172 9081 455", "annual boiler service and bleed the radiators", "140 euros"},
		{"windows", "Window seals", "Glasshaus Nowak", "0157 3362 904", "reseal the bedroom windows against draughts", "390 euros"},
		{"floor", "Hallway floor", "Oakline Floors", "0163 1185 270", "sand and oil the oak floorboards in the hallway", "980 euros"},
		{"garden-wall", "Garden wall", "Stonecraft Meyer", "0178 6604 731", "repoint the crumbling brick wall by the shed", "1,150 euros"},
		{"lock", "Front door lock", "Keyfix Schmidt", "0152 8873 006", "change the cylinder lock after losing a key", "95 euros"},
		{"paint", "Living room paint", "Farbwerk Decorators", "0170 2291 543", "paint the living room walls in soft sage green", "720 euros"},
		{"damp", "Cellar damp", "DryBase Solutions", "0159 4417 628", "inject a damp-proof course in the cellar", "1,800 euros"},
	}
	for _, r := range repairs {
		c.add(qSource{key: "repair-" + r.key, title: r.title, text: []string{
			fmt.Sprintf("Quote from %s (phone %s): %s.", r.who, r.phone, r.what),
			fmt.Sprintf("The estimate is %s including materials; they can start next month.", r.cost),
		}})
	}
	c.questions = append(c.questions,
		qQuestion{q: "who is doing the plumber work in the bathroom", key: "repair-bathroom"},
		qQuestion{q: "phone number of Hollis", key: "repair-roof"},
		qQuestion{q: "how much is renovating the cellar against dampness", key: "repair-damp"},
		qQuestion{q: "quote for sanding floorboards", key: "repair-floor"},
		qQuestion{q: "locksmith after I lost my keys", key: "repair-lock"},
		qQuestion{q: "what colour are we painting the living room", key: "repair-paint"},
		qQuestion{q: "bleeding radiators", key: "repair-boiler"},
	)

	// Health.
	health := []struct{ key, title, who, when, note string }{
		{"dentist", "Dentist", "Dr. Abernathy", "Tuesday 14 May at 9:40", "Crown on the lower left molar; bring the insurance card."},
		{"physio", "Physiotherapy for the knee", "Sandra Oyelaran", "Thursdays at 17:00 for six weeks", "Exercises: wall sits, step-downs and cycling without resistance."},
		{"eye", "Eye test", "Optik Brenner", "Saturday 1 June at 11:15", "New prescription for reading glasses; ask about blue light lenses."},
		{"blood", "Blood test", "Dr. Varga", "Monday 20 May at 8:00, fasting", "Check vitamin D and iron levels after the tiredness in winter."},
		{"derm", "Dermatologist", "Dr. Lindqvist", "Wednesday 29 May at 15:30", "Have the mole on the shoulder looked at."},
		{"vaccine", "Travel vaccination", "Tropical medicine clinic", "Friday 7 June at 10:00", "Hepatitis A booster and typhoid before the trip."},
		{"gp", "GP check-up", "Dr. Nakamura", "Tuesday 4 June at 16:20", "Renew the asthma inhaler prescription."},
		{"hearing", "Hearing test", "Audio Klinik Berg", "Monday 10 June at 13:00", "Tinnitus in the right ear since the concert."},
	}
	for _, h := range health {
		c.add(qSource{key: "health-" + h.key, title: h.title, text: []string{
			fmt.Sprintf("Appointment with %s: %s.", h.who, h.when),
			h.note,
		}})
	}
	c.questions = append(c.questions,
		qQuestion{q: "when is my appointment with Oyelaran", key: "health-physio"},
		qQuestion{q: "which vaccinations do I need before travelling", key: "health-vaccine"},
		qQuestion{q: "who checks the mole", key: "health-derm"},
		qQuestion{q: "inhaler renewal", key: "health-gp"},
		qQuestion{q: "tinnitus appointment", key: "health-hearing"},
		qQuestion{q: "fasting blood test for vitamins", key: "health-blood"},
	)

	// Invoices and bills: the family where codes matter.
	bills := []struct{ code, company, what, amount, due string }{
		{"INV-20417", "Stadtwerke Nord", "electricity for March", "84.20", "15 April"},
		{"INV-20588", "Stadtwerke Nord", "electricity for April", "79.90", "15 May"},
		{"INV-31102", "Telekabel", "internet and phone", "44.99", "1 May"},
		{"INV-31240", "Telekabel", "router replacement", "59.00", "20 May"},
		{"INV-40076", "Hansa Versicherung", "home contents insurance", "212.00", "30 June"},
		{"INV-40311", "Hansa Versicherung", "bicycle insurance", "36.50", "30 June"},
		{"INV-51890", "Kita Sonnenschein", "childcare fees for May", "310.00", "5 May"},
		{"INV-52014", "Musikschule Allegro", "piano lessons, spring term", "265.00", "10 May"},
		{"INV-60233", "Autohaus Berger", "winter tyre storage", "49.00", "31 May"},
		{"INV-60457", "Autohaus Berger", "brake pads and discs", "388.40", "12 June"},
		{"INV-70120", "Zahnarztpraxis Abernathy", "dental crown co-payment", "420.00", "28 May"},
		{"INV-70266", "Optik Brenner", "reading glasses", "189.00", "15 June"},
	}
	for _, b := range bills {
		c.add(qSource{key: "bill-" + b.code, title: "Invoice " + b.code, doc: true, text: []string{
			fmt.Sprintf("Invoice %s from %s for %s.", b.code, b.company, b.what),
			fmt.Sprintf("Amount due: %s euros, payable by %s by bank transfer quoting the invoice number.", b.amount, b.due),
		}})
	}
	c.questions = append(c.questions,
		qQuestion{q: "how much is invoice INV-31240", key: "bill-INV-31240"},
		qQuestion{q: "INV-60457 due date", key: "bill-INV-60457"},
		qQuestion{q: "what do the piano lessons cost", key: "bill-INV-52014"},
		qQuestion{q: "bill for storing the winter tyres", key: "bill-INV-60233"},
		qQuestion{q: "insurance for my bike", key: "bill-INV-40311"},
		qQuestion{q: "April electricity bill", key: "bill-INV-20588"},
	)

	// Work meetings.
	meetings := []struct{ key, person, project, decision, next string }{
		{"orion", "Priya Raghunathan", "Orion data migration", "move the billing tables first, reports last", "Priya sends the cutover checklist by Friday"},
		{"atlas", "Tomasz Wrzesiński", "Atlas mobile app", "ship offline mode behind a feature flag", "Tomasz books a usability session"},
		{"helix", "Grace Okonkwo", "Helix pricing page", "drop the annual-only plan", "Grace drafts the announcement"},
		{"nimbus", "Lars Henriksen", "Nimbus search rollout", "start with ten percent of users", "Lars watches error rates daily"},
		{"quartz", "Mei Takahashi", "Quartz onboarding", "shorten signup to two steps", "Mei runs an A/B test in June"},
		{"vega", "Diego Alvarado", "Vega hiring plan", "hire two backend engineers before autumn", "Diego opens the job posts"},
		{"lumen", "Fatima Zahra Benali", "Lumen accessibility audit", "fix contrast and keyboard traps first", "Fatima shares the audit report"},
		{"cobalt", "Henrik Sørensen", "Cobalt budget review", "cut the conference budget by a third", "Henrik updates the forecast"},
		{"sierra", "Aoife Brennan", "Sierra customer interviews", "interview twelve churned customers", "Aoife writes the interview guide"},
		{"tundra", "Kwame Mensah", "Tundra infrastructure costs", "move batch jobs to spot instances", "Kwame measures the savings"},
		{"ember", "Sofia Lindgren", "Ember design system", "retire the old button styles", "Sofia audits the components"},
		{"delta", "Ravi Shankar", "Delta security review", "rotate all API keys quarterly", "Ravi writes the rotation runbook"},
	}
	for _, m := range meetings {
		c.add(qSource{key: "meeting-" + m.key, title: "Meeting: " + m.project, text: []string{
			fmt.Sprintf("1:1 with %s about the %s.", m.person, m.project),
			fmt.Sprintf("Decision: %s.", m.decision),
			fmt.Sprintf("Next step: %s.", m.next),
		}})
	}
	c.questions = append(c.questions,
		qQuestion{q: "what did we decide with Okonkwo", key: "meeting-helix"},
		qQuestion{q: "Wrzesiński next steps", key: "meeting-atlas"},
		qQuestion{q: "how many engineers are we hiring", key: "meeting-vega"},
		qQuestion{q: "rollout percentage for search", key: "meeting-nimbus"},
		qQuestion{q: "rotating api keys", key: "meeting-delta"},
		qQuestion{q: "churned customer interviewing", key: "meeting-sierra"},
		qQuestion{q: "spot instance savings", key: "meeting-tundra"},
	)

	// Books.
	books := []struct{ key, book, author, idea string }{
		{"deepwork", "Deep Work", "Cal Newport", "schedule every minute of the workday and batch shallow tasks"},
		{"atomic", "Atomic Habits", "James Clear", "make habits obvious, attractive, easy and satisfying"},
		{"thinking", "Thinking, Fast and Slow", "Daniel Kahneman", "system one jumps to conclusions, system two is lazy"},
		{"sapiens", "Sapiens", "Yuval Noah Harari", "shared myths let strangers cooperate in large numbers"},
		{"makespace", "Make Time", "Jake Knapp and John Zeratsky", "choose one highlight for each day"},
		{"fourthousand", "Four Thousand Weeks", "Oliver Burkeman", "accept that you will never get everything done"},
		{"essentialism", "Essentialism", "Greg McKeown", "if it is not a clear yes it is a clear no"},
		{"range", "Range", "David Epstein", "generalists triumph in wicked learning environments"},
	}
	for _, b := range books {
		c.add(qSource{key: "book-" + b.key, title: "Reading notes: " + b.book, text: []string{
			fmt.Sprintf("%s by %s.", b.book, b.author),
			fmt.Sprintf("Main idea: %s.", b.idea),
		}})
	}
	c.questions = append(c.questions,
		qQuestion{q: "what does Burkeman say", key: "book-fourthousand"},
		qQuestion{q: "book about habits", key: "book-atomic"},
		qQuestion{q: "daily highlight idea", key: "book-makespace"},
		qQuestion{q: "generalist versus specialist", key: "book-range"},
	)

	// Garden.
	plants := []struct{ key, plant, care string }{
		{"tomato", "Tomatoes", "pinch out the side shoots and water at the base every evening"},
		{"basil", "Basil", "keep it on the sunny windowsill and pick the tops so it bushes out"},
		{"roses", "Roses", "prune back to an outward-facing bud in early March"},
		{"lavender", "Lavender", "cut back after flowering but never into old wood"},
		{"figtree", "Fig tree", "wrap it in fleece when frost is forecast"},
		{"strawberries", "Strawberries", "put straw under the fruit and net against blackbirds"},
		{"hydrangea", "Hydrangea", "add aluminium sulphate to keep the flowers blue"},
		{"lawn", "Lawn", "scarify in September and overseed the bare patches"},
	}
	for _, p := range plants {
		c.add(qSource{key: "garden-" + p.key, title: "Garden: " + p.plant, text: []string{
			fmt.Sprintf("%s: %s.", p.plant, p.care),
		}})
	}
	c.questions = append(c.questions,
		qQuestion{q: "when to prune the rose", key: "garden-roses"},
		qQuestion{q: "frost protection for the fig", key: "garden-figtree"},
		qQuestion{q: "keeping hydrangeas blue", key: "garden-hydrangea"},
		qQuestion{q: "scarifying", key: "garden-lawn"},
	)

	// Pets, cars, gifts, languages, fitness: smaller families.
	misc := []qSource{
		{key: "pet-miso", title: "Miso the cat", text: []string{"Miso's vaccination booster is due in July at the Pfotenhilfe veterinary clinic.", "She eats the salmon kibble, 60 grams a day."}},
		{key: "pet-bruno", title: "Bruno the dog", text: []string{"Bruno has puppy school on Saturdays at ten.", "Worming tablet every three months; next one in August."}},
		{key: "pet-fish", title: "Aquarium", text: []string{"Change a quarter of the water every Sunday.", "The neon tetras like the temperature at 24 degrees."}},
		{key: "car-skoda", title: "Škoda Octavia", text: []string{"Next inspection (TÜV) due in October.", "Tyre pressure 2.3 bar front, 2.1 bar rear."}},
		{key: "car-bike", title: "Cargo bike", text: []string{"The Urban Arrow needs a new chain and the hub gear adjusted.", "Battery lasts about 60 kilometres."}},
		{key: "gift-mum", title: "Birthday ideas for Mum", text: []string{"She mentioned a ceramics course and the new Elena Ferrante novel.", "Budget about 80 euros."}},
		{key: "gift-jonas", title: "Gift for Jonas", text: []string{"Jonas turns seven: a Lego Technic crane or a telescope.", "Party on the 12th at the climbing hall."}},
		{key: "gift-anniv", title: "Anniversary", text: []string{"Ten years on 3 September: book a table at Restaurant Nordlicht.", "Engrave the watch with the date."}},
		{key: "lang-spanish", title: "Spanish lesson notes", text: []string{"Subjunctive after ojalá, quiero que and espero que.", "Homework: write about last summer in the preterite."}},
		{key: "lang-japanese", title: "Japanese practice", text: []string{"Learn twenty kanji a week with spaced repetition.", "Particles wa and ga still confuse me."}},
		{key: "fit-run", title: "Half marathon plan", text: []string{"Long run on Sundays, adding two kilometres each week up to 18.", "Intervals on Wednesdays: six times 800 metres."}},
		{key: "fit-swim", title: "Swimming", text: []string{"Swim 1,500 metres on Tuesday mornings before work.", "Work on bilateral breathing."}},
		{key: "fit-yoga", title: "Yoga", text: []string{"Evening yin yoga class on Fridays at the studio on Lindenstraße.", "Bring the bolster."}},
		{key: "kids-school", title: "School", text: []string{"Parent-teacher evening on 22 May; ask about the reading support.", "Field trip to the planetarium needs a signed form."}},
		{key: "kids-swim", title: "Swimming lessons for Ella", text: []string{"Seahorse badge test on Saturday.", "Pack goggles and a towel."}},
	}
	for _, s := range misc {
		c.add(s)
	}
	c.questions = append(c.questions,
		qQuestion{q: "when are Miso's vaccinations", key: "pet-miso"},
		qQuestion{q: "worming the dog", key: "pet-bruno"},
		qQuestion{q: "tyre pressures of the Octavia", key: "car-skoda"},
		qQuestion{q: "present for Jonas", key: "gift-jonas"},
		qQuestion{q: "subjunctive homework", key: "lang-spanish"},
		qQuestion{q: "interval training", key: "fit-run"},
		qQuestion{q: "planetarium trip form", key: "kids-school"},
		qQuestion{q: "restaurant for our anniversary", key: "gift-anniv"},
	)

	// Uploaded documents: manuals, policies and leases, longer and with
	// headings.
	docs := []struct {
		key, title string
		sections   [][2]string
	}{
		{"manual-washer", "Washing machine manual (Bosch Serie 6)", [][2]string{
			{"Error codes", "E18 means the drain is blocked: clean the pump filter behind the flap at the bottom right. E17 means no water supply."},
			{"Cleaning", "Run the drum clean programme at 90 degrees once a month with no laundry."},
			{"Warranty", "Two years; register the appliance within four weeks for an extra year."},
		}},
		{"manual-dishwasher", "Dishwasher manual (Miele G 7000)", [][2]string{
			{"Error codes", "F11 means the water is not draining: check the filter combination and the drain hose."},
			{"Salt", "Refill the water softener salt when the indicator lights up."},
		}},
		{"manual-heatpump", "Heat pump operating guide", [][2]string{
			{"Night setback", "Lower the flow temperature by 3 kelvin between 22:00 and 6:00."},
			{"Maintenance", "Have the refrigerant circuit checked every two years by a certified installer."},
		}},
		{"lease", "Lease agreement, Lindenstraße 14", [][2]string{
			{"Rent", "The monthly rent is 1,240 euros cold plus 210 euros service charges, due on the third working day."},
			{"Notice", "Either party may terminate with three months' notice to the end of a month."},
			{"Pets", "Small pets are allowed; dogs need the landlord's written consent."},
		}},
		{"insurance-home", "Home contents insurance policy HV-883120", [][2]string{
			{"Cover", "Covers burglary, fire, storm and water damage up to 65,000 euros."},
			{"Bicycles", "Bicycles are covered against theft up to 1 percent of the sum insured when locked."},
		}},
		{"insurance-health", "Dental insurance terms", [][2]string{
			{"Crowns", "Reimbursement of 70 percent for crowns after a waiting period of eight months."},
			{"Cleaning", "Two professional cleanings a year are free."},
		}},
		{"employee-handbook", "Employee handbook", [][2]string{
			{"Holidays", "Thirty days of annual leave; carry over at most five days to March."},
			{"Remote work", "Work from anywhere in the EU for up to four weeks a year."},
			{"Expenses", "Submit receipts in the Spendesk app within thirty days."},
		}},
		{"school-rules", "Primary school information sheet", [][2]string{
			{"Illness", "Call the office before 8:00 when your child is sick."},
			{"Lunch", "Lunch costs 3.90 euros and is booked a week ahead in the Schoolfood portal."},
		}},
		{"tax", "Tax return checklist", [][2]string{
			{"Deadlines", "File the return by 31 July; with a tax adviser by the end of February next year."},
			{"Deductions", "Keep receipts for home office equipment, commuting and childcare costs."},
		}},
		{"router", "Router setup guide (FritzBox 7590)", [][2]string{
			{"Guest network", "Enable the guest network under Wi-Fi > Guest Access and print the QR code."},
			{"Updates", "Switch on automatic FRITZ!OS updates."},
		}},
	}
	for _, d := range docs {
		var b strings.Builder
		fmt.Fprintf(&b, "# %s\n\n", d.title)
		for _, s := range d.sections {
			fmt.Fprintf(&b, "## %s\n\n%s\n\n", s[0], s[1])
		}
		c.add(qSource{key: "doc-" + d.key, title: d.title, doc: true, markdown: true, text: []string{b.String()}})
	}
	c.questions = append(c.questions,
		qQuestion{q: "washing machine shows E18", key: "doc-manual-washer"},
		qQuestion{q: "dishwasher error F11", key: "doc-manual-dishwasher"},
		qQuestion{q: "how much notice to terminate the lease", key: "doc-lease"},
		qQuestion{q: "is my bicycle covered against theft", key: "doc-insurance-home"},
		qQuestion{q: "crown reimbursement percentage", key: "doc-insurance-health"},
		qQuestion{q: "how many holiday days carry over", key: "doc-employee-handbook"},
		qQuestion{q: "booking school lunches", key: "doc-school-rules"},
		qQuestion{q: "tax return deadline", key: "doc-tax"},
		qQuestion{q: "guest wifi", key: "doc-router"},
		qQuestion{q: "heat pump night temperature", key: "doc-manual-heatpump"},
	)

	// Questions typed the way people type on a phone: without diacritics,
	// with typos. Full-text search needs the exact word; embeddings of
	// word parts can still match.
	c.questions = append(c.questions,
		qQuestion{q: "trip to krakow", key: "trip-KRK-5521", kind: typed},
		qQuestion{q: "what to see in Bascarsija", key: "trip-SJJ-1945", kind: typed},
		qQuestion{q: "Wideroe flight", key: "trip-BGO-6604", kind: typed},
		qQuestion{q: "Wrzesinski offline mode", key: "meeting-atlas", kind: typed},
		qQuestion{q: "Sorensen conference budget", key: "meeting-cobalt", kind: typed},
		qQuestion{q: "skoda inspection", key: "car-skoda", kind: typed},
		qQuestion{q: "yoga studio on Lindenstrasse", key: "fit-yoga", kind: typed},
		qQuestion{q: "Alfareria hotel", key: "trip-SVQ-6039", kind: typed},
		qQuestion{q: "hydrangas", key: "garden-hydrangea", kind: typed},
		qQuestion{q: "planetarum", key: "kids-school", kind: typed},
		qQuestion{q: "focacia", key: "recipe-focaccia", kind: typed},
		qQuestion{q: "shakshouka", key: "recipe-shakshuka", kind: typed},
		qQuestion{q: "Oyelarn", key: "health-physio", kind: typed},
		qQuestion{q: "Kowalczik quote", key: "repair-bathroom", kind: typed},
		qQuestion{q: "Raghunatan cutover checklist", key: "meeting-orion", kind: typed},
		qQuestion{q: "Takahasi onboarding", key: "meeting-quartz", kind: typed},
		qQuestion{q: "Okonkow announcement", key: "meeting-helix", kind: typed},
		qQuestion{q: "granolla oven", key: "recipe-granola", kind: typed},
		qQuestion{q: "Nidaros catedral", key: "trip-TRD-8812", kind: typed},
		qQuestion{q: "Gravenstein castle", key: "trip-GNT-3158", kind: typed},
	)

	// Filler: a diary of ordinary days, the bulk of a real notes app, so
	// that common words are common.
	moods := []string{"tired", "cheerful", "restless", "calm", "busy", "slow"}
	events := []string{"coffee with a neighbour", "a long walk by the canal", "cleaning the fridge", "answering emails all morning",
		"a call with my sister", "fixing the bike light", "a thunderstorm in the afternoon", "reading in the park",
		"too many meetings", "baking bread", "sorting the photos", "a quiet evening with music"}
	for i := range 105 {
		c.add(qSource{key: fmt.Sprintf("diary-%d", i), title: fmt.Sprintf("Diary, day %d", i+1), text: []string{
			fmt.Sprintf("Felt %s today. The day was mostly %s, then %s.", moods[i%len(moods)], events[i%len(events)], events[(i*7+3)%len(events)]),
			fmt.Sprintf("Tomorrow: %s.", events[(i*5+1)%len(events)]),
		}})
	}
	for _, s := range paraphraseSources {
		c.add(s)
	}
	for _, q := range paraphraseQuestions {
		q.kind = paraphrase
		c.questions = append(c.questions, q)
	}
	return c
}

func month(i int) string {
	return []string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}[i%12]
}
