/**
 * English sentences for synthetic long-form speech, read by espeak-ng's default voice: the long-form test
 * (test/integration/longform.test.ts, the first twelve) and the accuracy evaluation (bench/eval-wer.ts, all
 * eighteen) cut the same audio, so their numbers speak of the same speech; test/integration/preparation.test.ts speaks the
 * first four after its pause (distinct sentences, so no chunk's text trips Whisper's repetition guard). Distinct wording, everyday words, no
 * punctuation (espeak pauses at commas and full stops, and the tests want to choose where pauses fall).
 * Keep the order: the long-form test's first twelve were chosen (from 25 candidates) and ordered so whisper-tiny.en
 * stays under 7 % word errors per sentence with and without pauses between them.
 */
export const ESPEAK_SENTENCES: readonly string[] = [
  'We planted tomatoes and carrots in the garden last spring and picked them at the end of the summer',
  'Please remember to turn off the lights and lock the front door when you leave the house',
  'A strong wind blew through the forest and knocked down several tall trees near the cabin',
  'Heavy rain caused flooding in several towns along the river and many roads were closed for days',
  'My brother bought a new camera and took hundreds of pictures of the mountains during his trip',
  'The company announced that it will open three new stores in different parts of the country next year',
  'He forgot his umbrella at home and got completely wet while waiting for the bus in the rain',
  'Our train was delayed for nearly two hours because heavy snow had covered the tracks outside the village',
  'The chef prepared a delicious dinner with fresh fish and vegetables from the local market',
  'The pilot told the passengers to fasten their seat belts because the plane was flying through a storm',
  'Our family drove to the beach on Saturday and spent the whole afternoon swimming in the ocean',
  'The teacher asked everyone in the class to write a short story about their favorite animal',
  'Small children came running across the field when they heard the music of the ice cream truck',
  'The library will be closed on Monday while workers repair the roof and paint the walls',
  'She practiced the piano every evening for a month before the concert at the town hall',
  'The farmer woke up early to feed the cows and check the fences around the meadow',
  'After the meeting the manager sent everyone a summary of the decisions by email',
  'The museum opened a new exhibition about ancient ships and the sailors who built them',
];
