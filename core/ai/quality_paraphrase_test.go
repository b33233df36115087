package ai_test

// The paraphrase subset of the retrieval quality corpus: questions that ask
// for a passage in other words than it uses: another form of a word
// ("taxes" for "tax", "shorter" for "shorten"), a synonym ("lounge" for
// "living room", "sick" for "ill"), a related word ("pay" for
// "prepayment"). They were written for this project. Most still name
// something of the source, as people do, but the words that tell it from
// its look-alikes are paraphrased.

// paraphraseSources are notes only the paraphrase questions ask about.
var paraphraseSources = []qSource{
	{key: "money-taxprepay", title: "Money matters", text: []string{
		"Quarterly tax prepayment is due in April, then in July, October and December.",
		"The amounts are on the assessment letter from the tax office."}},
	{key: "money-pension", title: "Retirement savings", text: []string{
		"The pension fund statement arrives every January; contributions are 150 euros a month.",
		"Consider raising the contribution when the salary goes up."}},
	{key: "home-move", title: "Moving house", text: []string{
		"The removal company arrives at seven on the 14th; label every carton with its room.",
		"Cancel the electricity contract at the old address and read the meter."}},
}

// paraphraseQuestions name the source that answers each.
var paraphraseQuestions = []qQuestion{
	{q: "when do I have to pay taxes", key: "money-taxprepay"},
	{q: "how much do I contribute to my retirement fund monthly", key: "money-pension"},
	{q: "when do the movers come", key: "home-move"},
	{q: "which spice goes into the banana loaf", key: "recipe-bananabread"},
	{q: "cracking eggs into the tomato sauce", key: "recipe-shakshuka"},
	{q: "roasting carrots for more flavour", key: "recipe-carrotsoup"},
	{q: "stirring the oats so they don't scorch", key: "recipe-granola"},
	{q: "cooking every vegetable on its own before stacking them", key: "recipe-ratatouille"},
	{q: "keeping the topping crunchy", key: "recipe-crumble"},
	{q: "who fixes the dripping shower", key: "repair-bathroom"},
	{q: "electrician for new outlets above the counter", key: "repair-kitchen"},
	{q: "servicing the heating yearly", key: "repair-boiler"},
	{q: "draughty bedroom windows", key: "repair-windows"},
	{q: "what does repainting the lounge cost", key: "repair-paint"},
	{q: "waterproofing the basement", key: "repair-damp"},
	{q: "replacing the lock because a key went missing", key: "repair-lock"},
	{q: "new spectacles prescription", key: "health-eye"},
	{q: "skin doctor for the spot on my shoulder", key: "health-derm"},
	{q: "renewing the prescription for my asthma spray", key: "health-gp"},
	{q: "ringing in my ears", key: "health-hearing"},
	{q: "how much is the day care bill for May", key: "bill-INV-51890"},
	{q: "what did replacing the router cost", key: "bill-INV-31240"},
	{q: "premium for insuring the household contents", key: "bill-INV-40076"},
	{q: "who is migrating the billing data", key: "meeting-orion"},
	{q: "we decided to remove the yearly plan", key: "meeting-helix"},
	{q: "hiring engineers this fall", key: "meeting-vega"},
	{q: "reducing what we spend on conferences", key: "meeting-cobalt"},
	{q: "making the signup shorter", key: "meeting-quartz"},
	{q: "how often do we change the API keys", key: "meeting-delta"},
	{q: "retiring the old buttons", key: "meeting-ember"},
	{q: "why generalists win", key: "book-range"},
	{q: "myths that make strangers collaborate", key: "book-sapiens"},
	{q: "watering the tomato plants", key: "garden-tomato"},
	{q: "trimming lavender after it blooms", key: "garden-lavender"},
	{q: "keeping the basil bushy", key: "garden-basil"},
	{q: "how warm should the fish tank be", key: "pet-fish"},
	{q: "birthday present for my mother", key: "gift-mum"},
	{q: "swimming before the office", key: "fit-swim"},
	{q: "washer says the drain is clogged", key: "doc-manual-washer"},
	{q: "can we keep a dog in the flat", key: "doc-lease"},
	{q: "is flood damage covered", key: "doc-insurance-home"},
	{q: "vacation days per year", key: "doc-employee-handbook"},
	{q: "phoning the school when my kid is ill", key: "doc-school-rules"},
	{q: "what can I deduct for working from home", key: "doc-tax"},
	{q: "turning the heating down overnight", key: "doc-manual-heatpump"},
	{q: "switching on automatic updates of the router", key: "doc-router"},
	{q: "when does my plane to Bergen take off", key: "trip-BGO-6604"},
	{q: "which sights to visit in Valletta", key: "trip-MLA-3387"},
}
